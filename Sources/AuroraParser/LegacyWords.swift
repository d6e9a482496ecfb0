/// Whether a decoded text's words look like words: the measure that picks a legacy code page.
enum LegacyWords {
    enum Script {
        case latin, cyrillic, cjk

        init(_ encoding: TextEncoding) {
            switch encoding {
            case .windows1251: self = .cyrillic
            case .shiftJIS, .gbk, .big5, .eucKR: self = .cjk
            default: self = .latin
            }
        }
    }

    /// Tokens (runs of letters and non-ASCII characters) that hold a non-ASCII character, and
    /// how many of them are plausible words of `script`.
    static func plausibleWords(_ text: String, script: Script) -> (plausible: Int, words: Int) {
        var plausible = 0
        var words = 0
        var token: [Unicode.Scalar] = []
        func close() {
            defer { token.removeAll(keepingCapacity: true) }
            // A lone character (`£` in `£12`, `½`) is not a word in any reading.
            guard token.count >= 2, token.contains(where: { !$0.isASCII }) else { return }
            words += 1
            if Self.isWord(token, script: script) { plausible += 1 }
        }
        for scalar in text.unicodeScalars {
            if !scalar.isASCII || scalar.properties.isAlphabetic {
                token.append(scalar)
            } else {
                close()
            }
        }
        close()
        return (plausible, words)
    }

    static func isWord(_ token: [Unicode.Scalar], script: Script) -> Bool {
        // Spanish opens questions and exclamations with ¿ and ¡: not part of the word.
        var token = token[...]
        if script == .latin { while let first = token.first, first == "\u{BF}" || first == "\u{A1}" { token = token.dropFirst() } }
        var ascii = 0
        var foreign = 0
        for scalar in token {
            if scalar.isASCII {
                ascii += 1
                continue
            }
            foreign += 1
            let value = scalar.value
            switch script {
            case .latin:
                // Latin letters (Latin-1 Supplement and Extended-A/B), not symbols such as ¹ ³ ¿ £.
                guard (0xC0...0x24F).contains(value), value != 0xD7, value != 0xF7 else { return false }
            case .cyrillic:
                guard (0x400...0x4FF).contains(value) else { return false }
            case .cjk:
                let cjk = (0x3040...0x30FF).contains(value) || (0x3400...0x9FFF).contains(value) || (0xAC00...0xD7AF).contains(value)
                    || (0xFF00...0xFFEF).contains(value) || (0x3000...0x303F).contains(value)
                guard cjk else { return false }
            }
        }
        switch script {
        // Western and Central European words are mostly ASCII letters: a word of accented
        // letters only (beyond two) is another script read wrong.
        case .latin: return token.count <= 2 || ascii >= foreign
        // Cyrillic and CJK words have no ASCII letters inside.
        case .cyrillic, .cjk: return ascii == 0
        }
    }

    /// Hiragana and katakana among the non-ASCII characters.
    static func kanaShare(_ text: String) -> Double {
        var kana = 0
        var foreign = 0
        for scalar in text.unicodeScalars where !scalar.isASCII {
            foreign += 1
            if (0x3040...0x30FF).contains(scalar.value) || (0xFF66...0xFF9D).contains(scalar.value) { kana += 1 }
        }
        return foreign == 0 ? 0 : Double(kana) / Double(foreign)
    }
}
