import Dispatch
import Foundation
import Logging

/// A fuzz input read as a sequence of decisions (single bytes) and chunks (length-prefixed), so
/// that the fuzzer can shape calls: which method, which options, which request messages.
public struct FuzzInput {
    private let bytes: [UInt8]
    private var offset = 0

    public init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        self.bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    }

    public var isEmpty: Bool { self.offset >= self.bytes.count }

    /// The next byte, 0 once the input is used up.
    public mutating func byte() -> UInt8 {
        guard !self.isEmpty else { return 0 }
        defer { self.offset += 1 }
        return self.bytes[self.offset]
    }

    /// One of `choices`, picked by the next byte.
    public mutating func pick<T>(_ choices: [T]) -> T { choices[Int(self.byte()) % choices.count] }

    /// A chunk: a 2-byte big-endian length, then up to that many bytes.
    public mutating func chunk() -> [UInt8] {
        let length = Int(self.byte()) << 8 | Int(self.byte())
        let end = min(self.bytes.count, self.offset + length)
        defer { self.offset = end }
        return Array(self.bytes[min(self.offset, end)..<end])
    }

    /// Every byte not read yet.
    public mutating func rest() -> [UInt8] {
        defer { self.offset = self.bytes.count }
        return Array(self.bytes[min(self.offset, self.bytes.count)...])
    }
}

/// Runs async work to its end from libFuzzer's synchronous callback (a plain thread, so blocking
/// it is fine).
public func runBlocking(_ body: @escaping @Sendable () async -> Void) {
    let done = DispatchSemaphore(value: 0)
    Task {
        await body()
        done.signal()
    }
    done.wait()
}

/// Without libFuzzer: feeds each file (or each file of each directory) given as an argument to
/// `callback`, the regression run of a committed corpus.
public func replayCorpus(
    _ arguments: [String], through callback: (UnsafePointer<UInt8>?, Int) -> CInt
) throws {
    var count = 0
    for path in arguments {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: path).sorted().map { "\(path)/\($0)" }) ?? [path]
        for file in files {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
            _ = bytes.withUnsafeBufferPointer { callback($0.baseAddress, $0.count) }
            count += 1
        }
    }
    print("replayed \(count) inputs")
}

/// Silences logging once per process: a fuzz run makes millions of calls, and handlers log each.
public let quietLogging: Void = LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
