import Foundation

/// The zstd dictionaries shipped with the protocol (Protocol/dictionaries/), by id.
public enum BuiltinDictionaries {
    /// Every built-in dictionary, digested once per process, newest first.
    public static let all: [DigestedDictionary] = GeneratedDictionaries.base64.map { entry in
        DigestedDictionary(CompressionDictionary(id: entry.id, bytes: Array(Data(base64Encoded: entry.data)!)))
    }

    public static func dictionary(id: UInt32) -> DigestedDictionary? {
        all.first { $0.id == id }
    }
}
