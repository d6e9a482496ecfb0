import AuroraProtocol
import AuroraWire
import Foundation
import NIOCore
import NIOTestUtils
import SwiftProtobuf
import Testing

@Suite("Golden vectors")
struct VectorTests {
    static let registry: [String: any SwiftProtobuf.Message.Type] = [
        "aurora.wire.v1.Hello": Aurora_Wire_V1_Hello.self, "aurora.wire.v1.Welcome": Aurora_Wire_V1_Welcome.self,
        "aurora.wire.v1.Call": Aurora_Wire_V1_Call.self, "aurora.wire.v1.Status": Aurora_Wire_V1_Status.self,
        "aurora.wire.v1.Credit": Aurora_Wire_V1_Credit.self, "aurora.wire.v1.Ping": Aurora_Wire_V1_Ping.self,
        "aurora.wire.v1.GoAway": Aurora_Wire_V1_GoAway.self,
    ]

    @Test func thereAreVectorsForEveryFrameKind() throws {
        let kinds = Set(try VectorFile.all("valid").map { $0.expectation["kind_byte"] as! Int })
        #expect(kinds == Set(1...11))
        #expect(try VectorFile.all("invalid").count >= 15)
    }

    @Test(arguments: try VectorFile.all("valid").map(\.name))
    func validVectorDecodesAsDocumented(_ name: String) throws {
        let vector = try VectorFile.all("valid").first { $0.name == name }!
        var buffer = ByteBuffer(bytes: vector.bytes)
        var decoder = FrameDecoder()
        let frame = try #require(try decoder.decode(buffer: &buffer))
        #expect(buffer.readableBytes == 0)
        #expect(Int(frame.kind.rawValue) == vector.expectation["kind_byte"] as? Int)
        #expect(frame.kind.description == vector.expectation["kind"] as? String)
        #expect(Int(frame.flags.rawValue) == vector.expectation["flags"] as? Int)
        #expect(Int(frame.streamID.rawValue) == vector.expectation["stream_id"] as? Int)
        #expect(frame.body.readableBytes == vector.expectation["body_bytes"] as? Int)

        let codec = BodyCodec(limits: .default)
        codec.dictionary = BuiltinDictionaries.dictionary(id: 1)
        let payload = try codec.decode(frame, allocator: ByteBufferAllocator())
        guard let typeName = vector.expectation["body_type"] as? String else {
            #expect(payload.readableBytes == 0)
            return
        }
        let type = try #require(Self.registry[typeName] ?? Self.serviceType(typeName))
        let decoded = try type.init(serializedBytes: Array(payload.readableBytesView))
        let expectedJSON = try JSONSerialization.data(withJSONObject: vector.expectation["body"]!)
        let expected = try type.init(jsonUTF8Bytes: expectedJSON)
        #expect(decoded.isEqualTo(message: expected))
        // The same frame again, drip-fed and merged with others, through NIO's decoder verifier.
        let input = ByteBuffer(bytes: vector.bytes)
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [(input, [frame])], decoderFactory: { FrameDecoder() })
    }

    static func serviceType(_ name: String) -> (any SwiftProtobuf.Message.Type)? {
        name == "aurora.diag.v1.Chunk" ? Aurora_Diag_V1_Chunk.self : nil
    }

    @Test(arguments: try VectorFile.all("invalid").map(\.name))
    func invalidVectorFailsAsDocumented(_ name: String) throws {
        let vector = try VectorFile.all("invalid").first { $0.name == name }!
        let expectedCode = UInt32(vector.expectation["code"] as! Int)
        var buffer = ByteBuffer(bytes: vector.bytes)
        var decoder = FrameDecoder()
        do {
            var frame = try decoder.decode(buffer: &buffer)
            if frame == nil { frame = try decoder.decodeLast(buffer: &buffer, seenEOF: true) }
            let decoded = try #require(frame, "\(name): no frame and no error")
            let codec = BodyCodec(limits: .default)
            _ = try codec.decodeControl(decoded, as: Aurora_Wire_V1_Hello.self, allocator: ByteBufferAllocator())
            Issue.record("\(name) decoded without the documented \(vector.expectation["error"]!)")
        } catch let error as WireError {
            #expect(error.code.rawValue == expectedCode, "\(name): \(error)")
            #expect(error.code.description == vector.expectation["error"] as? String)
        }
    }

    @Test func oversizedPrefixIsRefusedBeforeTheBodyArrives() throws {
        // Only the 4-byte prefix is present: the decoder must not wait for 2 GiB.
        var buffer = ByteBuffer(bytes: [0x7F, 0xFF, 0xFF, 0xFF])
        var decoder = FrameDecoder()
        #expect(throws: WireError(.frameTooLarge, "frame length 2147483647 exceeds the limit of 4325376 bytes")) {
            _ = try decoder.decode(buffer: &buffer)
        }
    }
}

