import AuroraWire
import CLibFuzzer
import Foundation
import NIOCore

/// Feeds arbitrary bytes through the frame decoder and the body decoder, as a server would on a
/// fresh connection: every frame found is inflated (with and without the dictionary) and parsed
/// as a HELLO. Any crash, trap, leak or unbounded allocation is a bug; errors are expected.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWire(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    var buffer = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    var decoder = FrameDecoder(limits: WireLimits(maxFrameBytes: 1 << 20, maxMessageBytes: 1 << 20))
    let codec = FuzzState.codec
    let allocator = ByteBufferAllocator()
    do {
        while let frame = try decoder.decode(buffer: &buffer) {
            _ = try? codec.decode(frame, allocator: allocator)
            _ = try? codec.decodeControl(frame, as: Aurora_Wire_V1_Hello.self, allocator: allocator)
        }
        _ = try decoder.decodeLast(buffer: &buffer, seenEOF: true)
    } catch {
        // Refusing bad input is the expected outcome.
    }
    return 0
}

enum FuzzState {
    /// One codec, like one connection, with dictionary 1 negotiated.
    nonisolated(unsafe) static let codec: BodyCodec = {
        let codec = BodyCodec(limits: WireLimits(maxFrameBytes: 1 << 20, maxMessageBytes: 1 << 20))
        codec.dictionary = BuiltinDictionaries.dictionary(id: 1)
        return codec
    }()
}

#if FUZZING
/// libFuzzer's entry point under `-sanitize=fuzzer` (SwiftPM links executables with
/// `--defsym main=WireFuzz_main`, so libFuzzer's own main is reached through this).
@_cdecl("WireFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzWire)
}
#else
/// Without libFuzzer: replays the corpus files given as arguments (a regression run).
@main
struct WireFuzzReplay {
    static func main() throws {
        var count = 0
        for path in CommandLine.arguments.dropFirst() {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: path).map { "\(path)/\($0)" }) ?? [path]
            for file in files {
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
                _ = bytes.withUnsafeBufferPointer { fuzzWire($0.baseAddress, $0.count) }
                count += 1
            }
        }
        print("replayed \(count) inputs")
    }
}
#endif
