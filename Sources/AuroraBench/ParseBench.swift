import ArgumentParser
import AuroraParser
import Foundation

/// `aurora-bench parse FILE`: MB/s of each parsing stage on one thread, to see where profiling
/// time goes: reading, tokenizing only, and the whole profile (tokenize + statistics).
struct ParseBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parse", abstract: "MB/s per parsing stage on one thread (read, tokenize, profile).")

    @Argument(help: "A comma-separated UTF-8 CSV file.")
    var file: String

    @Option(help: "Rounds; the best is printed.")
    var rounds: Int = 3

    func run() throws {
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: self.file)))
        let megabytes = Double(data.count) / 1e6
        func measure(_ label: String, _ body: () throws -> Void) rethrows {
            var best = Double.infinity
            for _ in 0..<self.rounds {
                let start = DispatchTime.now().uptimeNanoseconds
                try body()
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            print(String(format: "%-28@ %7.3f s %8.1f MB/s", label as NSString, best, megabytes / best))
        }
        let chunk = 1 << 20
        try measure("tokenize") {
            var tokenizer = CSVTokenizer(dialect: Dialect())
            var fields = 0
            try data.withUnsafeBufferPointer { bytes in
                var offset = 0
                while offset < bytes.count {
                    let end = min(offset + chunk, bytes.count)
                    try tokenizer.feed(UnsafeBufferPointer(rebasing: bytes[offset..<end])) { fields += $0.count }
                    offset = end
                }
                try tokenizer.finish { fields += $0.count }
            }
            precondition(fields > 0)
        }
        try measure("profile (1 thread)") {
            let profiler = Profiler(options: ProfileOptions(threads: 1))
            try data.withUnsafeBufferPointer { bytes in
                var offset = 0
                while offset < bytes.count {
                    let end = min(offset + chunk, bytes.count)
                    try profiler.consume(UnsafeBufferPointer(rebasing: bytes[offset..<end]))
                    offset = end
                }
            }
            let rows = try profiler.finish().rows
            precondition(rows > 0)
        }
    }
}
