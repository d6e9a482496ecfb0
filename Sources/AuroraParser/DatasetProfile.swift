/// A row that breaks the ragged policy `fail`, or a file that cannot be read.
public struct ProfileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var line: Int?

    public init(_ message: String, line: Int? = nil) {
        self.message = message
        self.line = line
    }

    public var description: String { self.line.map { "line \($0): \(self.message)" } ?? self.message }
}
