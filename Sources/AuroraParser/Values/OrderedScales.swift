import AuroraStatistics

/// Recognises categorical columns whose values follow a known order (sizes, Likert answers,
/// grades, ...), which ordinal encoding keeps and one-hot encoding throws away. A column is on a
/// scale when every one of its distinct values (at least three) is a word of that scale.
enum OrderedScales {
    /// Each scale's words, normalised (lower case, `_` and `-` as spaces).
    static let vocabularies: [(OrderedScale, Set<String>)] = [
        (.size, ["xxs", "xs", "s", "m", "l", "xl", "xxl", "xxxl", "2xl", "3xl", "extra small", "small", "medium", "large", "extra large", "x large", "xx large", "tiny", "huge"]),
        (.level, ["very low", "low", "medium low", "medium", "moderate", "medium high", "high", "very high", "extremely high", "none", "mild", "severe"]),
        (.agreement, ["strongly disagree", "disagree", "somewhat disagree", "neutral", "neither agree nor disagree", "somewhat agree", "agree", "strongly agree"]),
        (.frequency, ["never", "rarely", "seldom", "sometimes", "occasionally", "often", "frequently", "usually", "very often", "always"]),
        (.quality, ["very poor", "poor", "fair", "average", "good", "very good", "excellent", "premium", "ideal", "bad", "very bad"]),
        (.letterGrade, ["a+", "a", "a-", "b+", "b", "b-", "c+", "c", "c-", "d+", "d", "d-", "e", "f"]),
        (.clarity, ["i3", "i2", "i1", "si3", "si2", "si1", "vs2", "vs1", "vvs2", "vvs1", "if", "fl"]),
        (.education, ["none", "primary", "elementary", "middle school", "secondary", "high school", "some college", "college", "associate",
                      "bachelor", "bachelors", "bachelor's", "master", "masters", "master's", "doctorate", "phd"]),
        (.rank, ["first", "second", "third", "fourth", "fifth", "sixth", "1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th", "10th"]),
    ]

    static func normalised(_ value: String) -> String {
        // "-" joins words ("x-large") except in a grade ("b-").
        String(value.lowercased().map { $0 == "_" || ($0 == "-" && value.count > 2) ? " " : $0 }).trimmingSpaces
    }

    /// The scale all `values` belong to, if there is one (the first in `vocabularies` order).
    static func scale(of values: [String]) -> OrderedScale? {
        let words = Set(values.map(Self.normalised))
        guard words.count >= 3, words.count == values.count else { return nil }
        if let (scale, _) = Self.vocabularies.first(where: { words.isSubset(of: $0.1) }) { return scale }
        // Single letters in an unbroken run of at least four (diamond colours D to J, bands A to E).
        let letters = words.compactMap { $0.count == 1 ? $0.unicodeScalars.first.flatMap { $0.properties.isAlphabetic && $0.isASCII ? $0.value : nil } : nil }
        if letters.count == words.count && words.count >= 4, let low = letters.min(), let high = letters.max(), high - low + 1 == UInt32(words.count) {
            return .letterGrade
        }
        return nil
    }
}
