import AuroraParser
import AuroraProtocol
import AuroraStatistics
import Foundation

/// Conversions between the parser's values and their wire messages.
extension ProfileOptions {
    /// Applies a client's ReadOptions; a bad value is an error that names the option.
    public mutating func apply(_ read: Aurora_Profile_V1_ReadOptions) throws(ReadOptionsError) {
        if !read.encoding.isEmpty {
            guard let encoding = TextEncoding(name: read.encoding) else { throw ReadOptionsError("unknown encoding '\(read.encoding)'") }
            self.encoding = encoding
        }
        if !read.delimiter.isEmpty {
            guard read.delimiter.utf8.count == 1, let byte = read.delimiter.utf8.first else { throw ReadOptionsError("delimiter must be one ASCII character") }
            self.dialect.delimiter = byte
        }
        if !read.quote.isEmpty {
            if read.quote.lowercased() == "none" {
                self.dialect.quote = .some(nil)
            } else {
                guard read.quote.utf8.count == 1, let byte = read.quote.utf8.first else { throw ReadOptionsError("quote must be one ASCII character or none") }
                self.dialect.quote = .some(byte)
            }
        }
        switch read.escape.lowercased() {
        case "": break
        case "double", "doubled": self.dialect.escape = .doubledQuote
        case "backslash": self.dialect.escape = .backslash
        default: throw ReadOptionsError("escape must be double or backslash")
        }
        if read.hasHeader { self.dialect.header = read.header }
        if read.hasSkipLines { self.dialect.skipLines = Int(read.skipLines) }
        if !read.ragged.isEmpty {
            guard let policy = RaggedPolicy(rawValue: read.ragged) else { throw ReadOptionsError("ragged must be pad, skip or fail") }
            self.raggedPolicy = policy
        }
        if read.useMissingMarkers { self.settings.missingMarkers = MissingMarkers(read.missingMarkers) }
    }
}

public struct ReadOptionsError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
