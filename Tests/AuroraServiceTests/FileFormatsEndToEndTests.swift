import Foundation
import Testing

/// Through the CLI and the gateway as users reach it: a compressed file is analysed as its text,
/// and a file that is not a table is refused with exit 65 and a message saying what it is.
extension LearningServiceTests.EndToEndTests {
    @Test func compressedFilesAreAnalysedAndNonTablesRefusedByName() async throws {
        let system = try await LocalSystem.start()
        defer { system.stop() }
        let token = try await system.token(user: "formats-\(UUID().uuidString)")
        let plain = try self.writeFile(SimilarFiles.customers(seed: 6), in: system, name: "plain.csv")
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gzip.arguments = ["gzip", "-k", plain]
        try gzip.run()
        gzip.waitUntilExit()
        let expected = try self.analyzeJSON(system, plain, token: token)
        let compressed = try self.analyzeJSON(system, plain + ".gz", token: token)
        let names = { (report: [String: Any]) in (report["columns"] as? [[String: Any]] ?? []).map { $0["name"] as? String ?? "" } }
        #expect(names(compressed) == names(expected) && names(expected).count == 4)
        #expect(((compressed["file"] as? [String: Any])?["encoding_reason"] as? String)?.hasPrefix("gzip-compressed") == true)

        let pdf = try self.writeFile("%PDF-1.7\n%âãÏÓ\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", in: system, name: "report.csv")
        for command in [["analyze", pdf], ["profile", pdf]] {
            let refused = try system.aurora(command, token: token)
            #expect(refused.status == 65, "\(command): \(refused.errors)")
            #expect(refused.errors.contains("PDF document, not a CSV"), "\(command): \(refused.errors)")
        }
    }
}
