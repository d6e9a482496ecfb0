import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle

/// What every AURORA daemon shares: configuration from flags, then environment variables, then
/// defaults; the internal service credential; logging; running services until SIGTERM/SIGINT.
public enum Daemon {
    /// A flag's value, else the environment variable's, else the default. A set but unparsable
    /// environment variable is an error that names it.
    public static func setting<T: LosslessStringConvertible>(_ flag: T?, env name: String, default value: T) throws -> T {
        if let flag { return flag }
        guard let text = ProcessInfo.processInfo.environment[name], !text.isEmpty else { return value }
        guard let parsed = T(text) else { throw ValidationError("environment variable \(name)='\(text)' is not a valid value") }
        return parsed
    }

    public static func optionalSetting(_ flag: String?, env name: String) -> String? {
        if let flag { return flag }
        guard let text = ProcessInfo.processInfo.environment[name], !text.isEmpty else { return nil }
        return text
    }

    /// The internal service credential: from a file (preferred: containers mount secrets as files)
    /// or an environment variable. Refuses to run without one, and refuses short ones.
    public static func internalSecret(file: String?, fileEnv: String = "AURORA_INTERNAL_SECRET_FILE", env: String = "AURORA_INTERNAL_SECRET") throws -> String {
        var secret: String?
        if let path = Self.optionalSetting(file, env: fileEnv) {
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read the internal secret file \(path)") }
            secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        } else if let value = ProcessInfo.processInfo.environment[env] {
            secret = value
        }
        guard let secret, !secret.isEmpty else {
            throw ValidationError("no internal service credential: set --internal-secret-file, \(fileEnv) or \(env)")
        }
        guard secret.utf8.count >= 32 else { throw ValidationError("the internal service credential must be at least 32 bytes") }
        return secret
    }

    public static func logger(label: String, level: String) throws -> Logger {
        guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
            throw ValidationError("log level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = parsed
            return handler
        }
        var logger = Logger(label: label)
        logger.logLevel = parsed
        return logger
    }

    /// Runs `services` until SIGTERM or SIGINT, then shuts them down gracefully, in reverse order.
    public static func run(_ services: [any Service], logger: Logger) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}
