/// Finds where rows end without copying any field, so a file can be cut into parts that
/// separate tokenizers parse on several cores. Mirrors `CSVTokenizer`'s states exactly (a quote
/// opens a field only at its start; doubled quotes and backslash escapes) and counts lines the
/// same way, so each part knows the line it starts on.
struct RowBoundaryScanner {
    private enum State { case fieldStart, unquoted, quoted, quoteInQuoted, escapedInQuoted, escapedInUnquoted }

    let dialect: Dialect
    private var state = State.fieldStart
    private var afterCR = false
    /// Line of the next byte (1-based).
    private(set) var line: Int

    /// What ends a run of bytes that change nothing: CR, LF and the quote outside quotes (the
    /// delimiter need not stop it: the state follows from the byte before), and inside quotes the
    /// tokenizer's own set (adding backslash with backslash escapes). Needles of a mask window:
    /// LF, CR, quote (LF again without quoting) and, inside quotes only, backslash.
    private let needles: (UInt8, UInt8, UInt8, UInt8)

    init(dialect: Dialect, firstLine: Int) {
        self.dialect = dialect
        self.line = firstLine
        let lf = UInt8(ascii: "\n")
        self.needles = (lf, UInt8(ascii: "\r"), dialect.quote ?? lf, dialect.escape == .backslash ? UInt8(ascii: "\\") : lf)
    }

    /// Scans `bytes`; returns the offset just past the last row end found in them and the line
    /// that starts there. A CR at the very end is not a boundary yet (a LF may follow).
    mutating func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> (offset: Int, line: Int)? {
        let delimiter = self.dialect.delimiter
        let quote = self.dialect.quote.map(Int.init) ?? -1
        let backslash = self.dialect.escape == .backslash
        let skipSpaces = self.dialect.skipInitialSpace
        let lf = UInt8(ascii: "\n")
        let cr = UInt8(ascii: "\r")
        var boundary: (offset: Int, line: Int)?
        var index = 0
        let count = bytes.count
        var window = ByteMaskWindow(self.needles)
        // Between bytes that matter (quote, CR, LF, and backslash inside quotes with backslash
        // escapes) nothing changes inside quotes, and outside quotes the state is set by the last
        // byte alone (a delimiter starts a field; anything else is unquoted text). So the scan
        // jumps from one such byte to the next, 64 bytes of masks at a time.
        while index < count {
            if !self.afterCR && self.state != .quoteInQuoted && self.state != .escapedInQuoted && self.state != .escapedInUnquoted,
                let base = bytes.baseAddress
            {
                var next = index
                while next < count {
                    window.load(base, index: next, count: count)
                    var mask = window.masks.m0 | window.masks.m1 | window.masks.m2
                    // The backslash needle: inside quotes, and outside them too with backslash escapes.
                    if self.state == .quoted || backslash { mask |= window.masks.m3 }
                    let bits = window.bits(mask, from: next)
                    if bits != 0 {
                        next += bits.trailingZeroBitCount
                        break
                    }
                    next = window.start + 64
                }
                next = min(next, count)
                if next > index && self.state != .quoted {
                    // With skipped initial spaces, a field still starts after the delimiter's spaces.
                    var last = next - 1
                    if skipSpaces { while last >= index && bytes[last] == UInt8(ascii: " ") { last -= 1 } }
                    if last >= index {
                        self.state = bytes[last] == delimiter ? .fieldStart : .unquoted
                    } else if self.state != .fieldStart {
                        self.state = .unquoted
                    }
                }
                index = next
                if index >= count { break }
            }
            let byte = bytes[index]
            let wasAfterCR = self.afterCR
            self.afterCR = false
            if wasAfterCR && self.state == .fieldStart {
                // The row ended at the CR; it is a boundary unless this byte is its LF.
                if byte == lf {
                    index += 1
                    boundary = (index, self.line)
                    continue
                }
                boundary = (index, self.line)
            }
            switch self.state {
            case .fieldStart, .unquoted:
                if byte == delimiter {
                    self.state = .fieldStart
                } else if byte == lf {
                    // After an escaped CR, the LF ends the row but not another line.
                    if !wasAfterCR { self.line += 1 }
                    self.state = .fieldStart
                    boundary = (index + 1, self.line)
                } else if byte == cr {
                    self.line += 1
                    self.state = .fieldStart
                    self.afterCR = true
                } else if Int(byte) == quote && self.state == .fieldStart {
                    self.state = .quoted
                } else if skipSpaces && byte == UInt8(ascii: " ") && self.state == .fieldStart {
                    // still before the field
                } else if backslash && byte == UInt8(ascii: "\\") {
                    self.state = .escapedInUnquoted
                } else {
                    self.state = .unquoted
                }
            case .quoted:
                if Int(byte) == quote {
                    self.state = .quoteInQuoted
                } else if backslash && byte == UInt8(ascii: "\\") {
                    self.state = .escapedInQuoted
                } else if byte == cr || (byte == lf && !wasAfterCR) {
                    self.line += 1
                    self.afterCR = byte == cr
                } else if byte == lf {
                    self.afterCR = false
                }
            case .escapedInQuoted:
                if byte == cr || (byte == lf && !wasAfterCR) { self.line += 1 }
                self.afterCR = byte == cr
                self.state = .quoted
            case .escapedInUnquoted:
                if byte == cr || (byte == lf && !wasAfterCR) { self.line += 1 }
                self.afterCR = byte == cr
                self.state = .unquoted
            case .quoteInQuoted:
                if Int(byte) == quote && !backslash {
                    self.state = .quoted
                } else if byte == delimiter {
                    self.state = .fieldStart
                } else if byte == lf {
                    // After an escaped CR, the LF ends the row but not another line.
                    if !wasAfterCR { self.line += 1 }
                    self.state = .fieldStart
                    boundary = (index + 1, self.line)
                } else if byte == cr {
                    self.line += 1
                    self.state = .fieldStart
                    self.afterCR = true
                } else {
                    self.state = .unquoted
                }
            }
            index += 1
        }
        return boundary
    }
}

/// Counts invalid UTF-8 in a stream of chunks (a sequence split between chunks is carried).
struct UTF8Validator {
    private var carry: [UInt8] = []
    private(set) var invalid = 0

    mutating func validate(_ chunk: UnsafeBufferPointer<UInt8>, isLast: Bool) {
        if !self.carry.isEmpty {
            // Re-check the carried bytes with enough of this chunk to finish their sequence.
            let joined = self.carry + Array(chunk.prefix(4))
            let carried = self.carry.count
            self.carry = []
            var index = 0
            while index < carried {
                let length = UTF8Sequence.length(joined, at: index)
                if length > 0 {
                    index += length
                } else if length < 0 && !isLast && chunk.count < 4 {
                    self.carry = Array(joined[index...])
                    return
                } else {
                    self.invalid += 1
                    index += 1
                }
            }
            let skip = index - carried
            if skip > 0 {
                self.validate(UnsafeBufferPointer(rebasing: chunk[skip...]), isLast: isLast)
                return
            }
        }
        let count = chunk.count
        guard count > 0, let base = chunk.baseAddress else { return }
        let raw = UnsafeRawPointer(base)
        var index = 0
        while index < count {
            // Eight ASCII bytes at a time.
            if index + 8 <= count && raw.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                index += 8
                continue
            }
            if base[index] < 0x80 {
                index += 1
                continue
            }
            let length = UTF8Sequence.length(chunk, at: index)
            if length > 0 {
                index += length
            } else if length < 0 {
                if isLast {
                    self.invalid += 1
                    index += 1
                } else {
                    self.carry = Array(chunk[index...])
                    return
                }
            } else {
                self.invalid += 1
                index += 1
            }
        }
    }
}
