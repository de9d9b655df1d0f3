// MailtoURL.swift: `mailto:` URIs (RFC 6068), parsed and produced.
//
//   mailtoURI = "mailto:" [ to ] [ hfields ]
//   to        = addr-spec *("," addr-spec)        (percent-encoded)
//   hfields   = "?" hfield *( "&" hfield )
//   hfield    = hfname "=" hfvalue
//
// Untrusted input: URIs from web pages, QR codes and other people's mail.
// Parsing is strict: an overlong URI, a bad percent escape, bytes that are
// not UTF-8, an address that does not parse, or a CR/LF smuggled into a
// header field (header injection, RFC 6068 §7) are errors, never crashes.
// Line breaks are allowed in the body only, as %0D%0A (RFC 6068 §5).

/// Why a mailto: URI was refused.
public enum MailtoError: Error, Equatable, Sendable {
    case notMailto
    case tooLong(octets: Int)
    case badEscape
    case notUTF8
    case headerInjection(field: String)
    case badAddress(String, AddressError)
    case duplicateField(String)
    case noRecipient

    /// A sentence for the user.
    public var message: String {
        switch self {
        case .notMailto: return "not a mailto: URI"
        case .tooLong(let n):
            return "the URI is " + String(n) + " octets long; at most " + String(MailtoURL.maximumLength) + " are accepted"
        case .badEscape: return "a % is not followed by two hexadecimal digits"
        case .notUTF8: return "a decoded part is not valid UTF-8"
        case .headerInjection(let f): return "the " + f + " field holds a line break (header injection)"
        case .badAddress(let a, let e): return "`" + a + "` is not an address: " + e.message
        case .duplicateField(let f): return "the " + f + " field appears twice"
        case .noRecipient: return "the URI names no recipient"
        }
    }
}

/// A mailto: URI with the fields a mail user agent acts on.
public struct MailtoURL: Equatable, Sendable {
    /// Longest URI accepted (generous for a QR code, small enough to bound work).
    public static let maximumLength = 8192

    public var to: [Address]
    public var cc: [Address]
    public var subject: String?
    public var body: String?

    public init(to: [Address], cc: [Address] = [], subject: String? = nil, body: String? = nil) {
        self.to = to
        self.cc = cc
        self.subject = subject
        self.body = body
    }

    /// Parses a mailto: URI. Unknown header fields are ignored, except that
    /// they may not carry line breaks either; `bcc` is ignored on purpose (a
    /// link must not add hidden recipients behind the user's back).
    public static func parse(_ uri: String) throws(MailtoError) -> MailtoURL {
        let bytes = Array(uri.utf8)
        guard bytes.count <= maximumLength else { throw .tooLong(octets: bytes.count) }
        let scheme = Array("mailto:".utf8)
        guard bytes.count >= scheme.count,
              Array(lowercasedASCII(String(decoding: bytes[0..<scheme.count], as: UTF8.self)).utf8) == scheme
        else { throw .notMailto }
        let rest = Array(bytes[scheme.count...])
        let question = rest.firstIndex(of: UInt8(ascii: "?")) ?? rest.count
        var result = MailtoURL(to: [])
        for part in rest[..<question].split(separator: UInt8(ascii: ","), omittingEmptySubsequences: true) {
            let decoded = try decode(Array(part), field: "to")
            if decoded.utf8.contains(where: { $0 == 13 || $0 == 10 }) { throw .headerInjection(field: "to") }
            result.to.append(try address(decoded))
        }
        var seen: [String] = []
        if question < rest.count {
            for field in rest[(question + 1)...].split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
                let eq = field.firstIndex(of: UInt8(ascii: "=")) ?? field.endIndex
                let name = lowercasedASCII(try decode(Array(field[field.startIndex..<eq]), field: "field name"))
                let value = eq < field.endIndex ? Array(field[(eq + 1)...]) : []
                let decoded = try decode(value, field: name)
                if name != "body" && decoded.utf8.contains(where: { $0 == 13 || $0 == 10 }) {
                    throw .headerInjection(field: name)
                }
                switch name {
                case "to", "cc":
                    for a in decoded.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: true) {
                        let one = try address(trimmed(String(decoding: a, as: UTF8.self)))
                        if name == "to" { result.to.append(one) } else { result.cc.append(one) }
                    }
                case "subject", "body":
                    if seen.contains(name) { throw .duplicateField(name) }
                    seen.append(name)
                    if name == "subject" { result.subject = decoded } else { result.body = decoded }
                default:
                    break
                }
            }
        }
        guard !result.to.isEmpty || !result.cc.isEmpty else { throw .noRecipient }
        return result
    }

    /// The URI, percent-encoding everything outside RFC 3986 unreserved
    /// characters (and `@` in addresses).
    public var text: String {
        var out = "mailto:" + to.map { Self.encode($0.text, keepAt: true) }.joined(separator: ",")
        var fields: [String] = []
        if !cc.isEmpty { fields.append("cc=" + cc.map { Self.encode($0.text, keepAt: true) }.joined(separator: ",")) }
        if let subject { fields.append("subject=" + Self.encode(subject, keepAt: false)) }
        if let body { fields.append("body=" + Self.encode(body, keepAt: false)) }
        if !fields.isEmpty { out += "?" + fields.joined(separator: "&") }
        return out
    }

    static func address(_ text: String) throws(MailtoError) -> Address {
        do throws(AddressError) {
            return try Address.parse(text)
        } catch {
            throw .badAddress(text, error)
        }
    }

    static func trimmed(_ s: String) -> String {
        String(decoding: trim(Array(s.utf8)), as: UTF8.self)
    }

    /// Percent-decodes; the result must be UTF-8.
    static func decode(_ bytes: [UInt8], field: String) throws(MailtoError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, let h = hexValue(bytes[i + 1]), let l = hexValue(bytes[i + 2]) else {
                    throw .badEscape
                }
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        guard Path.isValidUTF8(out[...]) else { throw .notUTF8 }
        return String(decoding: out, as: UTF8.self)
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    static func encode(_ text: String, keepAt: Bool) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for b in text.utf8 {
            let unreserved = (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z"))
                || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
                || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "~")
            if unreserved || (keepAt && b == UInt8(ascii: "@")) {
                out.append(b)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
