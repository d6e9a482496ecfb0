import AuroraParserService
import AuroraProtocol
import AuroraRPC
import CLibFuzzer
import Foundation
import FuzzSupport
import SwiftProtobuf

/// Runs arbitrary Profile calls through the parser-service's real handler in process: either raw
/// request messages as a hostile caller would send them, or a well-formed upload whose read
/// options and file bytes the fuzzer chooses. Refusals are expected; a crash, trap, hang or
/// unbounded allocation is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzParser(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    quietLogging
    var input = FuzzInput(data, size)
    var requests: [[UInt8]] = []
    if input.byte() & 1 == 0 {
        while !input.isEmpty { requests.append(input.chunk()) }
    } else {
        var options = Aurora_Profile_V1_ReadOptions()
        options.encoding = input.pick(["", "UTF-8", "UTF-16LE", "UTF-16BE", "windows-1252", "ISO-8859-1", "latin-9"])
        options.delimiter = input.pick(["", ",", ";", "\t", "|", " ", "ab"])
        options.quote = input.pick(["", "\"", "'", "none"])
        options.escape = input.pick(["", "double", "backslash", "other"])
        let flags = input.byte()
        if flags & 1 != 0 { options.header = flags & 2 != 0 }
        if flags & 4 != 0 { options.skipLines = UInt32(input.byte()) }
        options.ragged = input.pick(["", "pad", "skip", "fail"])
        if flags & 8 != 0 {
            options.useMissingMarkers = true
            options.missingMarkers = ["", "NA", "-"]
        }
        var head = Aurora_Profile_V1_UploadChunk()
        head.options = options
        requests.append((try? head.serializedBytes()) ?? [])
        let chunkSize = Int(input.byte()) * 16 + 1
        let file = input.rest()
        for start in stride(from: 0, to: file.count, by: chunkSize) {
            var chunk = Aurora_Profile_V1_UploadChunk()
            chunk.data = Data(file[start..<min(file.count, start + chunkSize)])
            requests.append((try? chunk.serializedBytes()) ?? [])
        }
    }
    let frozen = requests
    runBlocking {
        _ = try? await ParserFuzzState.router.callInProcess(
            method: ParserAPI.profile.name, requests: frozen, principal: Principal(id: "internal", scopes: ["internal"]),
            metadata: [MetadataKeys.user: "fuzz"])
    }
    return 0
}

enum ParserFuzzState {
    static let router: Router = {
        var router = Router()
        ParserService(configuration: .init()).register(into: &router)
        return router
    }()
}

#if FUZZING
/// libFuzzer's entry point (SwiftPM links executables with `--defsym main=ParserFuzz_main`).
@_cdecl("ParserFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzParser)
}
#else
/// Without libFuzzer: replays the corpus given as arguments.
@main
struct ParserFuzzReplay {
    static func main() throws { try replayCorpus(Array(CommandLine.arguments.dropFirst()), through: fuzzParser) }
}
#endif
