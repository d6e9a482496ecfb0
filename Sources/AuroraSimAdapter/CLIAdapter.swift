import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The end-to-end mode, `aurora-sim-adapter --via-cli PATH/TO/aurora`: each request is answered the
/// way a user would answer it, with the `aurora` command-line client against a running gateway.
/// It needs simulate.py's `--external-source`, which names the CSV file and column of each request.
///   recommend: `aurora analyze FILE --json`, the recommendation of the column at `column_index`
///   feedback:  `aurora feedback ANALYSIS_ID --accept INDEX` or `--correct INDEX=ACTION`
///   summary:   `aurora rules --all --json` (rule counts) and this adapter's error counts
/// Settings from the environment:
///   AURORA_GATEWAY                 gateway host:port (required)
///   AURORA_SIM_TOKEN_COMMAND       shell command that prints a token for the user appended to it
///                                  (e.g. "Deploy/scripts/local.sh token"); otherwise
///   AURORA_JWT_KEYS_FILE           key set for `gateway token issue` (AURORA_SIM_GATEWAY_BIN, default
///                                  the `gateway` next to the aurora binary)
///   AURORA_SIM_CLI_TIMEOUT         seconds one CLI run may take (default 300)
/// A failed CLI run is reported on stderr with the CLI's own message and answered with
/// {"error": ...} (no action: simulate.py's --external-allow-unknown counts it as a rejection).
struct CLIAdapter {
    let aurora: String
    let gateway: String
    let timeout: Double
    let environment: [String: String]
    var tokens: [String: String] = [:]
    /// The last analysed column per user, for the feedback that follows its recommend.
    var pending: [String: (analysisID: String, column: String, file: String)] = [:]
    var counters: [String: Int] = [:]
    /// The last recommendation per user, for AURORA_SIM_TRACE.
    var recommended: [String: [String: Any]] = [:]

    /// The mode's settings from the command line, or nil when the adapter runs in direct mode.
    static func parse(_ arguments: [String]) -> CLIAdapter? {
        guard let flag = arguments.firstIndex(where: { $0 == "--via-cli" || $0.hasPrefix("--via-cli=") }) else { return nil }
        let path: String
        if arguments[flag].hasPrefix("--via-cli=") {
            path = String(arguments[flag].dropFirst("--via-cli=".count))
        } else if flag + 1 < arguments.count {
            path = arguments[flag + 1]
        } else {
            fail("--via-cli needs the path of the aurora binary")
        }
        let environment = ProcessInfo.processInfo.environment
        guard FileManager.default.isExecutableFile(atPath: path) else { fail("--via-cli \(path): not an executable file") }
        guard let gateway = environment["AURORA_GATEWAY"], !gateway.isEmpty else { fail("--via-cli needs AURORA_GATEWAY (host:port of the gateway)") }
        guard environment["AURORA_SIM_TOKEN_COMMAND"].map({ !$0.isEmpty }) ?? false || environment["AURORA_JWT_KEYS_FILE"] != nil else {
            fail("--via-cli needs AURORA_SIM_TOKEN_COMMAND (prints a token for the user appended to it) or AURORA_JWT_KEYS_FILE")
        }
        let timeout = environment["AURORA_SIM_CLI_TIMEOUT"].flatMap(Double.init) ?? 300
        return CLIAdapter(aurora: path, gateway: gateway, timeout: timeout, environment: environment)
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("aurora-sim-adapter: \(message)\n".utf8))
        exit(64)
    }

    static func warn(_ message: String) {
        FileHandle.standardError.write(Data("aurora-sim-adapter: \(message)\n".utf8))
    }

    mutating func run() {
        while let line = readLine() {
            guard let request = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                SimAdapter.reply(["error": "not a JSON object"])
                continue
            }
            let user = request["user"] as? String ?? "anonymous"
            do {
                switch request["op"] as? String {
                case "recommend": SimAdapter.reply(try self.recommend(user: user, source: request["source"] as? [String: Any]))
                case "feedback": SimAdapter.reply(try self.feedback(user: user, request: request))
                case "summary": SimAdapter.reply(self.summary(user: user))
                default: SimAdapter.reply(["error": "unknown op"])
                }
            } catch {
                self.counters["errors", default: 0] += 1
                Self.warn("\(request["op"] as? String ?? "?") for \(user): \(error)")
                SimAdapter.reply(["error": "\(error)"])
            }
        }
    }

    // MARK: Operations

    mutating func recommend(user: String, source: [String: Any]?) throws -> [String: Any] {
        self.pending[user] = nil
        guard let source, let file = source["path"] as? String, let wanted = (source["column_index"] as? NSNumber)?.intValue else {
            throw AdapterError("recommend without source.path and source.column_index: run simulate.py with --external-source")
        }
        let output = try self.aurora(user: user, ["analyze", file, "--json", "--no-progress"], what: "analyze \(file)")
        guard let analysis = try? JSONSerialization.jsonObject(with: output) as? [String: Any],
              let analysisID = analysis["analysis_id"] as? String, let columns = analysis["columns"] as? [[String: Any]]
        else {
            throw AdapterError("aurora analyze \(file) --json: output is not an analysis (\(String(decoding: output.prefix(200), as: UTF8.self)))")
        }
        guard let column = columns.first(where: { ($0["index"] as? NSNumber)?.intValue == wanted }) else {
            self.counters["missing_columns", default: 0] += 1
            throw AdapterError("\(file): the analysis has no column \(wanted) (\(source["column"] ?? "?")); it has \(columns.count) columns")
        }
        let name = column["name"] as? String ?? ""
        if let expected = source["column"] as? String, !Self.sameName(name, expected) {
            self.counters["name_mismatches", default: 0] += 1
            Self.warn("\(file): column \(wanted) is '\(name)' for aurora, '\(expected)' for the harness")
        }
        guard let recommendation = column["recommendation"] as? [String: Any], let action = recommendation["action"] as? String else {
            throw AdapterError("\(file): column \(wanted) ('\(name)') has no recommendation")
        }
        self.pending[user] = (analysisID, try Self.columnReference(index: wanted, name: name, columns: columns, file: file), file)
        var reply: [String: Any] = ["action": action]
        for key in ["confidence", "source", "explanation"] { reply[key] = recommendation[key] }
        self.recommended[user] = reply
        return reply
    }

    mutating func feedback(user: String, request: [String: Any]) throws -> [String: Any] {
        SimAdapter.traceVerdict(user: user, request: request, recommendation: self.recommended.removeValue(forKey: user))
        guard let entry = self.pending.removeValue(forKey: user) else {
            // Its recommend failed (already counted and reported): nothing to give feedback on.
            self.counters["feedback_skipped", default: 0] += 1
            return ["ok": false, "error": "no analysis for this feedback (its recommend failed)"]
        }
        guard let accepted = request["accepted_action"] as? String, !accepted.isEmpty else {
            throw AdapterError("feedback without accepted_action")
        }
        let column = entry.column
        let verdict = accepted == (request["recommended"] as? String) ? ["--accept", column] : ["--correct", "\(column)=\(accepted)"]
        _ = try self.aurora(user: user, ["feedback", entry.analysisID] + verdict, what: "feedback \(entry.analysisID) (\(entry.file))")
        return ["ok": true]
    }

    mutating func summary(user: String) -> [String: Any] {
        var reply: [String: Any] = [:]
        for key in ["errors", "missing_columns", "name_mismatches", "feedback_skipped", "cli_retries"] { reply[key] = self.counters[key, default: 0] }
        if let output = try? self.aurora(user: user, ["rules", "list", "--all", "--json"], what: "rules"),
           let rules = (try? JSONSerialization.jsonObject(with: output) as? [String: Any])?["rules"] as? [[String: Any]] {
            reply["rules_created"] = rules.count
            reply["rules_active"] = rules.filter { ($0["active"] as? NSNumber)?.boolValue ?? false }.count
        }
        return reply
    }

    /// How `aurora feedback` should name the column: the gateway takes a COLUMN as the first column
    /// so named, else as a zero-based index. The index, unless a column is named like it; else the name.
    static func columnReference(index: Int, name: String, columns: [[String: Any]], file: String) throws -> String {
        let named = columns.map { (index: ($0["index"] as? NSNumber)?.intValue ?? -1, name: $0["name"] as? String ?? "") }
        func resolves(_ reference: String) -> Bool {
            if let first = named.first(where: { $0.name == reference }) { return first.index == index }
            return Int(reference) == index
        }
        if resolves("\(index)") { return "\(index)" }
        if resolves(name) { return name }
        throw AdapterError("\(file): column \(index) ('\(name)') cannot be named for aurora feedback: '\(index)' and its name both mean another column")
    }

    /// pandas renames unnamed and repeated headers ("Unnamed: 0", "x.1"); the harness calls an
    /// unnamed first column "rownames".
    static func sameName(_ aurora: String, _ harness: String) -> Bool {
        if aurora == harness || aurora.trimmingCharacters(in: .whitespaces) == harness.trimmingCharacters(in: .whitespaces) { return true }
        if harness == "rownames" || harness.hasPrefix("Unnamed: ") { return aurora.isEmpty || aurora == "rownames" || aurora.hasPrefix("Unnamed") }
        if let dot = harness.lastIndex(of: "."), Int(harness[harness.index(after: dot)...]) != nil { return aurora == String(harness[..<dot]) }
        return false
    }

    // MARK: Running the CLI

    /// Runs `aurora ARGUMENTS` as USER and returns its stdout. Rate limits (75) and an unavailable
    /// service (69) are retried with a pause, a refused token (77) once with a fresh token.
    mutating func aurora(user: String, _ arguments: [String], what: String) throws -> Data {
        var refreshed = false
        var attempt = 0
        while true {
            var environment = self.environment
            environment["AURORA_GATEWAY"] = self.gateway
            environment["AURORA_TOKEN"] = try self.token(user: user)
            let result = try Self.run(self.aurora, arguments, environment: environment, timeout: self.timeout)
            if result.status == 0 && !result.timedOut { return result.stdout }
            let message = Self.text(result.stderr)
            if result.timedOut { throw AdapterError("aurora \(what): no answer within \(Int(self.timeout)) s (killed); stderr: \(message)") }
            if result.status == 77 && !refreshed {
                refreshed = true
                self.tokens[user] = nil
                continue
            }
            if result.status == 75 || result.status == 69, attempt < 4 {
                attempt += 1
                self.counters["cli_retries", default: 0] += 1
                Self.warn("aurora \(what) exited \(result.status), retrying in \(attempt) s: \(message)")
                Thread.sleep(forTimeInterval: Double(attempt))
                continue
            }
            throw AdapterError("aurora \(what) exited \(result.status): \(message)")
        }
    }

    mutating func token(user: String) throws -> String {
        if let token = self.tokens[user] { return token }
        let result: ProcessResult
        if let command = self.environment["AURORA_SIM_TOKEN_COMMAND"], !command.isEmpty {
            result = try Self.run("/bin/sh", ["-c", command + " \"$1\"", "sh", user], environment: self.environment, timeout: 60)
        } else {
            let gateway = self.environment["AURORA_SIM_GATEWAY_BIN"]
                ?? URL(fileURLWithPath: self.aurora).deletingLastPathComponent().appendingPathComponent("gateway").path
            result = try Self.run(gateway, ["token", "issue", "--user", user, "--scopes", "analyze,feedback", "--ttl", "12h"],
                                  environment: self.environment, timeout: 60)
        }
        let token = Self.text(result.stdout)
        guard result.status == 0, !result.timedOut, !token.isEmpty, !token.contains(where: \.isWhitespace) else {
            throw AdapterError("no token for \(user): the token command exited \(result.status): \(Self.text(result.stderr))")
        }
        self.tokens[user] = token
        return token
    }

    struct ProcessResult {
        var status: Int32
        var stdout: Data
        var stderr: Data
        var timedOut: Bool
    }

    /// Runs a program to completion: stdin from /dev/null (never the harness's requests), stdout and
    /// stderr read at once (a child blocked on a full pipe would never exit), killed after `timeout`.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String], timeout: Double) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdout
        process.standardError = stderr
        do {
            try process.run()
        } catch {
            throw AdapterError("cannot start \(executable): \(error)")
        }
        let box = ProcessBox(process)
        let errors = ErrorsReader(stderr.fileHandleForReading)
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { box.kill() }
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errorOutput = errors.wait()
        process.waitUntilExit()
        box.finished()
        return ProcessResult(status: process.terminationStatus, stdout: output, stderr: errorOutput, timedOut: box.timedOut)
    }

    /// A child's output as one message (its last 2,000 characters).
    static func text(_ data: Data) -> String {
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.count > 2000 ? "..." + text.suffix(2000) : text
    }
}

struct AdapterError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A running child the timeout may kill; `timedOut` says whether it did.
final class ProcessBox: @unchecked Sendable {
    private let lock = NSLock()
    private let process: Process
    private var done = false
    private var killed = false

    init(_ process: Process) { self.process = process }

    func kill() {
        self.lock.lock()
        defer { self.lock.unlock() }
        guard !self.done, self.process.isRunning else { return }
        self.killed = true
        self.process.terminate()
        let pid = self.process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + 5) { [self] in
            self.lock.lock()
            defer { self.lock.unlock() }
            if !self.done { Glibc.kill(pid, SIGKILL) }
        }
    }

    func finished() {
        self.lock.lock()
        self.done = true
        self.lock.unlock()
    }

    var timedOut: Bool {
        self.lock.lock()
        defer { self.lock.unlock() }
        return self.killed
    }
}

/// Reads a pipe to its end on another thread.
final class ErrorsReader: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private var data = Data()

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            self.data = handle.readDataToEndOfFile()
            self.semaphore.signal()
        }
    }

    func wait() -> Data {
        self.semaphore.wait()
        return self.data
    }
}
