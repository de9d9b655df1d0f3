// ControlSyntax.swift: the lexical pieces of Tor's control protocol: splitting
// a reply line into tokens, `Keyword=Value` arguments, QuotedString with its
// escapes, hexadecimal, decimal numbers, and the character classes that keep
// a command argument from injecting a line of its own.
//
// Untrusted input: every reply and event text from the control port passes
// through `tokens`, `unquote` and `keywordArguments`. Malformed text is a
// thrown `ControlError.protocolViolation`, never a crash.
// Spec: Tor control-spec.txt §2.1 (grammar), §2.1.1 (the QuotedString /
// CString escaping rule: after a backslash, n, t, r and octal digits are C
// escapes; any other character stands for itself).

/// Lexical helpers of the Tor control protocol.
public enum ControlSyntax {
    /// Splits `text` at spaces into tokens. Quoted parts (`"..."`, also in
    /// the middle of a token as in `KEY="a b"`) keep their spaces and their
    /// quotes; an unterminated quote is a protocol violation.
    public static func tokens(_ text: String) throws(ControlError) -> [String] {
        let bytes = Array(text.utf8)
        var tokens: [String] = []
        var current: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: " ") {
                if !current.isEmpty {
                    tokens.append(String(decoding: current, as: UTF8.self))
                    current = []
                }
                i += 1
                continue
            }
            if b == UInt8(ascii: "\"") {
                let end = try closingQuote(bytes, from: i)
                current.append(contentsOf: bytes[i...end])
                i = end + 1
                continue
            }
            current.append(b)
            i += 1
        }
        if !current.isEmpty { tokens.append(String(decoding: current, as: UTF8.self)) }
        return tokens
    }

    /// The value of a token: a QuotedString is unquoted and unescaped, any
    /// other token is returned as it is. A token that starts with a quote
    /// must end with the matching one.
    public static func unquote(_ token: String) throws(ControlError) -> String {
        let bytes = Array(token.utf8)
        guard bytes.first == UInt8(ascii: "\"") else { return token }
        let end = try closingQuote(bytes, from: 0)
        guard end == bytes.count - 1 else {
            throw .protocolViolation("text after a closing quote")
        }
        return String(decoding: try unescape(bytes[1..<end]), as: UTF8.self)
    }

    /// Splits `Keyword=Value` at the first `=` and unquotes the value;
    /// nil for a token without `=` (a positional argument).
    public static func keywordArgument(_ token: String) throws(ControlError) -> (key: String, value: String)? {
        let bytes = Array(token.utf8)
        guard let eq = bytes.firstIndex(of: UInt8(ascii: "=")), eq > 0 else { return nil }
        let key = String(decoding: bytes[..<eq], as: UTF8.self)
        let value = try unquote(String(decoding: bytes[(eq + 1)...], as: UTF8.self))
        return (key, value)
    }

    /// The `Keyword=Value` arguments among `tokens`, unquoted; positional
    /// tokens are skipped. A keyword given twice keeps its first value.
    public static func keywordArguments<S: Sequence>(_ tokens: S) throws(ControlError) -> [String: String]
    where S.Element == String {
        var arguments: [String: String] = [:]
        for token in tokens {
            if let (key, value) = try keywordArgument(token), arguments[key] == nil {
                arguments[key] = value
            }
        }
        return arguments
    }

    /// A space-separated list of QuotedStrings (or bare words), unquoted:
    /// the form of GETINFO `net/listeners/*`. Empty text is an empty list.
    public static func quotedList(_ text: String) throws(ControlError) -> [String] {
        var values: [String] = []
        for token in try tokens(text) { values.append(try unquote(token)) }
        return values
    }

    /// `text` as a QuotedString: `\` and `"` escaped, CR, LF and tab as
    /// `\r`, `\n`, `\t`, other control bytes as three octal digits.
    public static func quote(_ text: String) -> String {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "\\"), UInt8(ascii: "\""):
                out.append(UInt8(ascii: "\\"))
                out.append(b)
            case 0x0A:
                out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D:
                out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09:
                out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20, 0x7F:
                out.append(UInt8(ascii: "\\"))
                out.append(UInt8(ascii: "0") + (b >> 6))
                out.append(UInt8(ascii: "0") + ((b >> 3) & 7))
                out.append(UInt8(ascii: "0") + (b & 7))
            default:
                out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
        return String(decoding: out, as: UTF8.self)
    }

    /// Upper-case hexadecimal, as Tor writes it.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hexadecimal of either case; nil on an odd length or a
    /// character that is not a hex digit.
    public static func unhex(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let high = hexValue(chars[i]), let low = hexValue(chars[i + 1]) else { return nil }
            out.append(high << 4 | low)
            i += 2
        }
        return out
    }

    /// A non-negative decimal number of at most 9 digits (no sign, no
    /// spaces); nil otherwise.
    public static func decimal(_ text: String) -> Int? {
        let chars = Array(text.utf8)
        guard !chars.isEmpty, chars.count <= 9 else { return nil }
        var value = 0
        for c in chars {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(c - UInt8(ascii: "0"))
        }
        return value
    }

    /// Whether `text` is a v3 onion service ID: 56 characters of the
    /// lower-case base32 alphabet (rend-spec-v3 §6).
    public static func isServiceID(_ text: String) -> Bool {
        let chars = Array(text.utf8)
        return chars.count == 56 && chars.allSatisfy { isBase32Lower($0) }
    }

    /// `text` with ASCII letters in upper case (other bytes unchanged).
    public static func asciiUppercased(_ text: String) -> String {
        String(decoding: text.utf8.map { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") ? $0 - 32 : $0 },
               as: UTF8.self)
    }

    /// Whether every byte of `text` is in `allowed` and `text` is not empty:
    /// the guard that keeps command arguments to one token on one line.
    static func isToken(_ text: String, _ allowed: (UInt8) -> Bool) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(allowed)
    }

    /// Letters, digits, `_`: keywords (event names, signals, config keys).
    static func isKeywordByte(_ b: UInt8) -> Bool {
        isAlphanumeric(b) || b == UInt8(ascii: "_")
    }

    /// Printable ASCII except space, `"` and `\`: GETINFO keys.
    static func isInfoKeyByte(_ b: UInt8) -> Bool {
        b > 0x20 && b < 0x7F && b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\")
    }

    /// ASCII letter or digit.
    static func isAlphanumeric(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
    }

    /// The lower-case base32 alphabet of RFC 4648.
    static func isBase32Lower(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "2") && b <= UInt8(ascii: "7"))
    }

    // MARK: - Private

    /// The index of the quote that closes the one at `start`, skipping
    /// backslash-escaped characters.
    private static func closingQuote(_ bytes: [UInt8], from start: Int) throws(ControlError) -> Int {
        var i = start + 1
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\") {
                i += 2
                continue
            }
            if bytes[i] == UInt8(ascii: "\"") { return i }
            i += 1
        }
        throw .protocolViolation("unterminated quoted string")
    }

    /// Decodes the escapes of a QuotedString's content (§2.1.1).
    private static func unescape(_ content: ArraySlice<UInt8>) throws(ControlError) -> [UInt8] {
        var out: [UInt8] = []
        var i = content.startIndex
        while i < content.endIndex {
            let b = content[i]
            guard b == UInt8(ascii: "\\") else {
                out.append(b)
                i += 1
                continue
            }
            i += 1
            guard i < content.endIndex else { throw .protocolViolation("a quoted string ends in a backslash") }
            let e = content[i]
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A); i += 1
            case UInt8(ascii: "t"): out.append(0x09); i += 1
            case UInt8(ascii: "r"): out.append(0x0D); i += 1
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var value = 0
                var digits = 0
                while digits < 3, i < content.endIndex,
                      content[i] >= UInt8(ascii: "0"), content[i] <= UInt8(ascii: "7") {
                    value = value * 8 + Int(content[i] - UInt8(ascii: "0"))
                    digits += 1
                    i += 1
                }
                guard value <= 255 else { throw .protocolViolation("an octal escape above \\377") }
                out.append(UInt8(value))
            default:
                out.append(e)
                i += 1
            }
        }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
