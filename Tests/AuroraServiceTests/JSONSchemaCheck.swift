import Foundation
import Testing

/// The subset of JSON Schema (2020-12) that Protocol/schemas/report/analysis-report.schema.json
/// uses: type, enum, required, properties, additionalProperties: false, items, $ref to $defs,
/// oneOf, minimum and maximum. Returns one line per violation, with its JSON path.
struct JSONSchemaCheck {
    let root: [String: Any]

    static var analysisReport: JSONSchemaCheck {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Protocol/schemas/report/analysis-report.schema.json")
        let data = try! Data(contentsOf: url)
        return JSONSchemaCheck(root: try! JSONSerialization.jsonObject(with: data) as! [String: Any])
    }

    func violations(_ value: Any) -> [String] { self.check(value, self.root, path: "$") }

    private func resolve(_ schema: [String: Any]) -> [String: Any] {
        guard let reference = schema["$ref"] as? String, reference.hasPrefix("#/$defs/") else { return schema }
        let name = String(reference.dropFirst("#/$defs/".count))
        return self.resolve(((self.root["$defs"] as? [String: Any])?[name] as? [String: Any]) ?? [:])
    }

    private func typeName(_ value: Any) -> String {
        switch value {
        case is NSNull: "null"
        // A JSON true/false comes as an NSNumber made from a Bool (objCType "c").
        case let number as NSNumber where String(cString: number.objCType) == "c": "boolean"
        case let number as NSNumber: number.doubleValue == number.doubleValue.rounded() ? "integer" : "number"
        case is String: "string"
        case is [Any]: "array"
        case is [String: Any]: "object"
        default: "unknown"
        }
    }

    private func check(_ value: Any, _ raw: [String: Any], path: String) -> [String] {
        let schema = self.resolve(raw)
        if let options = schema["oneOf"] as? [[String: Any]] {
            let matching = options.filter { self.check(value, $0, path: path).isEmpty }.count
            return matching == 1 ? [] : ["\(path): matches \(matching) of the oneOf schemas"]
        }
        var problems: [String] = []
        let actual = self.typeName(value)
        if let type = schema["type"] {
            let allowed = (type as? [String]) ?? [(type as? String) ?? ""]
            let fits = allowed.contains(actual) || (actual == "integer" && allowed.contains("number"))
            if !fits { return ["\(path): \(actual), expected \(allowed.joined(separator: " or "))"] }
        }
        if let choices = schema["enum"] as? [Any], !choices.contains(where: { ($0 as? NSObject)?.isEqual(value) == true }) {
            problems.append("\(path): \(value) is not one of \(choices)")
        }
        if let number = value as? NSNumber, actual != "boolean" {
            if let minimum = schema["minimum"] as? Double, number.doubleValue < minimum { problems.append("\(path): \(number) < \(minimum)") }
            if let maximum = schema["maximum"] as? Double, number.doubleValue > maximum { problems.append("\(path): \(number) > \(maximum)") }
        }
        if let object = value as? [String: Any] {
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for key in schema["required"] as? [String] ?? [] where object[key] == nil { problems.append("\(path): \(key) is missing") }
            for (key, member) in object {
                if let property = properties[key] as? [String: Any] {
                    problems += self.check(member, property, path: "\(path).\(key)")
                } else if schema["additionalProperties"] as? Bool == false {
                    problems.append("\(path): \(key) is not in the schema")
                }
            }
        }
        if let array = value as? [Any], let items = schema["items"] as? [String: Any] {
            for (index, item) in array.enumerated() { problems += self.check(item, items, path: "\(path)[\(index)]") }
        }
        return problems
    }
}

@Suite("report schema check")
struct JSONSchemaCheckTests {
    @Test func catchesWhatTheSchemaForbids() throws {
        let check = JSONSchemaCheck.analysisReport
        #expect(!check.violations(["columns": []]).isEmpty, "file is required")
        let bad: [String: Any] = [
            "file": [:], "columns": [["index": -1, "name": "a", "type": "money", "type_reason": "", "stats": ["count": "3"]]], "extra": 1,
        ]
        let problems = check.violations(bad)
        for expected in ["$: extra is not in the schema", "$.file: encoding is missing", "$.columns[0].index", "$.columns[0].type", "$.columns[0].stats.count"] {
            #expect(problems.contains { $0.hasPrefix(expected) }, "\(expected) in \(problems)")
        }
    }
}
