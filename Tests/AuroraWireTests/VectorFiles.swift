import Foundation
import NIOCore

/// Protocol/vectors, read the way another implementation would read them.
struct VectorFile {
    let name: String
    let bytes: [UInt8]
    let expectation: [String: Any]

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Protocol/vectors")

    static func all(_ folder: String) throws -> [VectorFile] {
        let directory = root.appendingPathComponent(folder)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".hex") }.map { String($0.dropLast(4)) }.sorted()
        return try names.map { name in
            let hex = try String(contentsOf: directory.appendingPathComponent("\(name).hex"), encoding: .utf8)
            let digits = hex.split(whereSeparator: { $0 == " " || $0 == "\n" })
            let bytes = digits.map { UInt8($0, radix: 16)! }
            let markdown = try String(contentsOf: directory.appendingPathComponent("\(name).md"), encoding: .utf8)
            let json = markdown.components(separatedBy: "```json\n")[1].components(separatedBy: "```")[0]
            let expectation = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
            return VectorFile(name: name, bytes: bytes, expectation: expectation)
        }
    }
}
