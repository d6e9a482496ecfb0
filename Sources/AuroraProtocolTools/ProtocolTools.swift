import ArgumentParser
import AuroraProtocol
import AuroraWire
import CZstd
import Foundation
import NIOCore
import SwiftProtobuf

@main
struct ProtocolTools: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aurora-protocol-tools",
        abstract: "Writes the protocol's golden vectors and the dictionary training samples.",
        subcommands: [Vectors.self, DictionarySamples.self])
}

/// Writes Protocol/vectors/{valid,invalid}/<name>.hex and <name>.md.
struct Vectors: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write the golden frame vectors.")

    @Option(help: "Output folder (Protocol/vectors).")
    var out: String

    func run() throws {
        let fileManager = FileManager.default
        for folder in ["valid", "invalid"] {
            try fileManager.createDirectory(atPath: "\(out)/\(folder)", withIntermediateDirectories: true)
        }
        let catalog = try VectorCatalog()
        for vector in catalog.valid {
            try vector.write(to: "\(out)/valid")
        }
        for vector in catalog.invalid {
            try vector.write(to: "\(out)/invalid")
        }
        print("wrote \(catalog.valid.count) valid and \(catalog.invalid.count) invalid vectors to \(out)")
    }
}

/// Writes representative message payloads, one per file, for `zstd --train`.
struct DictionarySamples: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write dictionary training samples.")

    @Option(help: "Output folder.")
    var out: String

    @Option(help: "How many samples.")
    var count: Int = 4000

    func run() throws {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var random = SplitMix64(seed: 20261129)
        for index in 0..<count {
            let payload = try SampleMessages.payload(index: index, random: &random)
            try Data(payload).write(to: URL(fileURLWithPath: "\(out)/sample-\(index).bin"))
        }
        print("wrote \(count) samples to \(out)")
    }
}

/// A small deterministic generator, so samples and vectors are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
