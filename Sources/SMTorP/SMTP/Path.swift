// Path.swift — the reverse and forward paths of MAIL FROM and RCPT TO, and
// their parser.
//
// Untrusted input: the bytes of a MAIL/RCPT argument as sent by the peer
// (any octets; at most one command line). Nothing is trusted: every octet is
// checked against the grammar, UTF-8 is validated, lengths are bounded.
// RFCs: RFC 5321 §4.1.2 (Path, A-d-l, Mailbox, Domain, address literals),
// §4.1.3 (address literals), §4.5.3.1.1-3 (length limits), §4.1.1.3
// (<Postmaster>), RFC 6531 §3.3 (UTF-8 local parts and U-labels).

/// Why a path could not be accepted.
public enum PathError: Error, Equatable, Sendable {
    /// The path does not follow the grammar of RFC 5321 §4.1.2.
    case syntax
    /// The null path `<>` where a mailbox is required (RCPT).
    case nullPathNotAllowed
    /// The local part exceeds `Limits.localPartLength` (RFC 5321 §4.5.3.1.1).
    case localPartTooLong
    /// The domain exceeds `Limits.domainLength` (RFC 5321 §4.5.3.1.2).
    case domainTooLong
    /// The path exceeds `Limits.pathLength` (RFC 5321 §4.5.3.1.3).
    case pathTooLong
}

/// A reverse path (MAIL FROM) or forward path (RCPT TO):
/// `"<" [ A-d-l ":" ] Mailbox ">"`, or the null path `<>`.
public struct Path: Equatable, Sendable {
    /// The source route (A-d-l) as written, one lower-cased domain per hop,
    /// without the `@`. Empty when the path has none.
    public var route: [String]
    /// The mailbox, or nil for the null path `<>`.
    ///
    /// The special forward path `<Postmaster>` (RFC 5321 §4.1.1.3) is a
    /// mailbox with an empty domain: the postmaster of the receiving host.
    public var mailbox: Mailbox?

    /// Creates a path.
    public init(route: [String] = [], mailbox: Mailbox?) {
        self.route = route
        self.mailbox = mailbox
    }

    /// Whether this is the null path `<>`.
    public var isNull: Bool {
        mailbox == nil
    }

    /// Whether route and mailbox are plain ASCII.
    public var isASCII: Bool {
        route.allSatisfy { $0.utf8.allSatisfy { $0 < 0x80 } } && (mailbox?.isASCII ?? true)
    }

    /// Parses a whole path, e.g. `<alice@example.onion>`.
    ///
    /// UTF-8 is accepted in local parts and domain labels (RFC 6531); whether
    /// it is allowed in a given transaction is for the caller to decide
    /// (see `isASCII`).
    public static func parse(
        _ bytes: [UInt8], limits: Limits, allowsNull: Bool
    ) throws(PathError) -> Path {
        let (path, end) = try parse(
            bytes, from: 0, limits: limits, allowsNull: allowsNull, allowsPostmaster: !allowsNull)
        guard end == bytes.count else {
            throw .syntax
        }
        return path
    }

    /// Parses the path that starts at `start` in `bytes` and returns it with
    /// the index just past its closing `>`.
    static func parse(
        _ bytes: [UInt8], from start: Int, limits: Limits,
        allowsNull: Bool, allowsPostmaster: Bool
    ) throws(PathError) -> (path: Path, end: Int) {
        var scanner = PathScanner(bytes: bytes, index: start)
        guard scanner.take(0x3C) else {  // "<"
            throw .syntax
        }
        if scanner.take(0x3E) {  // ">": the null path
            guard allowsNull else {
                throw .nullPathNotAllowed
            }
            return (Path(mailbox: nil), scanner.index)
        }

        // A-d-l = At-domain *( "," At-domain ) ":"
        var route: [String] = []
        if scanner.current == 0x40 {
            while scanner.take(0x40) {
                guard let hop = scanner.scanDomain() else {
                    throw .syntax
                }
                route.append(Path.lowercased(bytes[hop]))
                if scanner.take(0x3A) {
                    break
                }
                guard scanner.take(0x2C) else {
                    throw .syntax
                }
            }
            guard scanner.index > start + 1, bytes[scanner.index - 1] == 0x3A else {
                throw .syntax
            }
        }

        // Local-part = Dot-string / Quoted-string
        let localStart = scanner.index
        let localPart: [UInt8]
        let isQuoted: Bool
        if scanner.current == 0x22 {
            guard let unquoted = scanner.scanQuotedString() else {
                throw .syntax
            }
            localPart = unquoted
            isQuoted = true
        } else {
            guard let dotString = scanner.scanDotString() else {
                throw .syntax
            }
            localPart = Array(bytes[dotString])
            isQuoted = false
        }
        let localLength = scanner.index - localStart

        // <Postmaster> without a domain (RFC 5321 §4.1.1.3).
        if allowsPostmaster, route.isEmpty, !isQuoted, scanner.current == 0x3E,
           Path.lowercased(localPart[...]) == "postmaster" {
            _ = scanner.take(0x3E)
            let mailbox = Mailbox(
                localPart: String(decoding: localPart, as: UTF8.self), domain: "")
            return (Path(mailbox: mailbox), scanner.index)
        }

        guard scanner.take(0x40) else {  // "@"
            throw .syntax
        }
        let domainStart = scanner.index
        let domain: String
        if scanner.current == 0x5B {  // "[": address literal
            guard let literal = scanner.scanAddressLiteral() else {
                throw .syntax
            }
            domain = String(decoding: bytes[literal], as: UTF8.self)
        } else {
            guard let name = scanner.scanDomain() else {
                throw .syntax
            }
            domain = Path.lowercased(bytes[name])
        }
        let domainLength = scanner.index - domainStart
        guard scanner.take(0x3E) else {  // ">"
            throw .syntax
        }
        guard Path.isValidUTF8(bytes[start..<scanner.index]) else {
            throw .syntax
        }
        guard localLength <= limits.localPartLength else {
            throw .localPartTooLong
        }
        guard domainLength <= limits.domainLength else {
            throw .domainTooLong
        }
        guard scanner.index - start <= limits.pathLength else {
            throw .pathTooLong
        }
        let mailbox = Mailbox(
            localPart: String(decoding: localPart, as: UTF8.self),
            domain: domain,
            isQuotedLocalPart: isQuoted)
        return (Path(route: route, mailbox: mailbox), scanner.index)
    }

    /// The argument of EHLO/HELO when it is a domain or an address literal
    /// of at most `maxLength` octets, as written; nil otherwise. ASCII only.
    static func helloDomain(_ bytes: ArraySlice<UInt8>, maxLength: Int) -> String? {
        guard !bytes.isEmpty, bytes.count <= maxLength,
              bytes.allSatisfy({ $0 < 0x80 }) else {
            return nil
        }
        var scanner = PathScanner(bytes: Array(bytes), index: 0)
        let range = scanner.current == 0x5B ? scanner.scanAddressLiteral() : scanner.scanDomain()
        guard range != nil, scanner.index == bytes.count else {
            return nil
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The bytes as a String with ASCII letters lower-cased.
    static func lowercased(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.map { $0.asciiLowercased }, as: UTF8.self)
    }

    /// Whether `bytes` is well-formed UTF-8 (no overlongs, no surrogates,
    /// nothing above U+10FFFF).
    static func isValidUTF8(_ bytes: ArraySlice<UInt8>) -> Bool {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let lead = bytes[index]
            let count: Int
            var lower: UInt8 = 0x80
            var upper: UInt8 = 0xBF
            switch lead {
            case 0x00...0x7F:
                index += 1
                continue
            case 0xC2...0xDF:
                count = 1
            case 0xE0:
                count = 2
                lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF:
                count = 2
            case 0xED:
                count = 2
                upper = 0x9F
            case 0xF0:
                count = 3
                lower = 0x90
            case 0xF1...0xF3:
                count = 3
            case 0xF4:
                count = 3
                upper = 0x8F
            default:
                return false
            }
            guard bytes.endIndex - index > count else {
                return false
            }
            let second = bytes[index + 1]
            guard second >= lower && second <= upper else {
                return false
            }
            var offset = 2
            while offset <= count {
                let continuation = bytes[index + offset]
                guard continuation >= 0x80 && continuation <= 0xBF else {
                    return false
                }
                offset += 1
            }
            index += count + 1
        }
        return true
    }
}

/// A cursor over the bytes of a path; each `scan` method consumes one
/// grammar element or, on failure, returns nil (the index is then unspecified).
struct PathScanner {
    let bytes: [UInt8]
    var index: Int

    var current: UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    /// Consumes `byte` if it is next.
    mutating func take(_ byte: UInt8) -> Bool {
        guard current == byte else {
            return false
        }
        index += 1
        return true
    }

    /// Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str]
    /// (letters, digits, hyphens, not starting or ending with a hyphen), or a
    /// U-label (UTF-8 octets, RFC 6531 §3.3).
    mutating func scanDomain() -> Range<Int>? {
        let start = index
        while true {
            guard let first = current, first.isLetterOrDigit || first >= 0x80 else {
                return nil
            }
            var last = first
            index += 1
            while let byte = current, byte.isLetterOrDigit || byte == 0x2D || byte >= 0x80 {
                last = byte
                index += 1
            }
            guard last != 0x2D else {
                return nil
            }
            guard take(0x2E) else {
                return start..<index
            }
        }
    }

    /// Dot-string = Atom *("." Atom); Atom = 1*atext (UTF-8 allowed).
    mutating func scanDotString() -> Range<Int>? {
        let start = index
        while true {
            let atomStart = index
            while let byte = current, byte.isAtomText {
                index += 1
            }
            guard index > atomStart else {
                return nil
            }
            guard take(0x2E) else {
                return start..<index
            }
        }
    }

    /// Quoted-string = DQUOTE *QcontentSMTP DQUOTE; returns the unescaped
    /// content.
    mutating func scanQuotedString() -> [UInt8]? {
        guard take(0x22) else {
            return nil
        }
        var content: [UInt8] = []
        while let byte = current {
            index += 1
            switch byte {
            case 0x22:
                return content
            case 0x5C:  // quoted-pairSMTP = "\" %d32-126
                guard let escaped = current, escaped >= 0x20, escaped <= 0x7E else {
                    return nil
                }
                content.append(escaped)
                index += 1
            case 0x20...0x21, 0x23...0x5B, 0x5D...0x7E, 0x80...0xFF:  // qtextSMTP
                content.append(byte)
            default:
                return nil
            }
        }
        return nil
    }

    /// address-literal = "[" ( IPv4 / "IPv6:" IPv6 ) "]". General address
    /// literals are refused: no tag other than IPv6 is registered.
    mutating func scanAddressLiteral() -> Range<Int>? {
        let start = index
        guard take(0x5B) else {
            return nil
        }
        let contentStart = index
        while let byte = current, byte != 0x5D {
            guard byte >= 0x21, byte <= 0x7E, byte != 0x5B, byte != 0x5C else {
                return nil
            }
            index += 1
        }
        let content = bytes[contentStart..<index]
        guard take(0x5D) else {
            return nil
        }
        if PathScanner.isIPv4(content) {
            return start..<index
        }
        let tag: [UInt8] = [0x69, 0x70, 0x76, 0x36, 0x3A]  // "ipv6:"
        guard content.count > tag.count,
              content.prefix(tag.count).map({ $0.asciiLowercased }) == tag,
              PathScanner.isIPv6(content.dropFirst(tag.count)) else {
            return nil
        }
        return start..<index
    }

    /// Snum "." Snum "." Snum "." Snum, each Snum 1-3 digits up to 255.
    static func isIPv4(_ bytes: ArraySlice<UInt8>) -> Bool {
        var parts = 0
        var digits = 0
        var value = 0
        for byte in bytes {
            if byte.isDigit {
                digits += 1
                value = value * 10 + Int(byte - 0x30)
                guard digits <= 3, value <= 255 else {
                    return false
                }
            } else if byte == 0x2E {
                guard digits > 0 else {
                    return false
                }
                parts += 1
                digits = 0
                value = 0
            } else {
                return false
            }
        }
        return digits > 0 && parts == 3
    }

    /// IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp (RFC 5321 §4.1.3).
    static func isIPv6(_ bytes: ArraySlice<UInt8>) -> Bool {
        var groups = 0
        var compressed = false
        var hasIPv4 = false
        var index = bytes.startIndex
        let end = bytes.endIndex
        if bytes.starts(with: [0x3A, 0x3A]) {
            compressed = true
            index += 2
        } else if bytes.first == 0x3A {
            return false
        }
        while index < end {
            let partStart = index
            while index < end, bytes[index] != 0x3A {
                index += 1
            }
            let part = bytes[partStart..<index]
            if part.contains(0x2E) {
                guard index == end, isIPv4(part) else {
                    return false
                }
                hasIPv4 = true
            } else {
                guard (1...4).contains(part.count), part.allSatisfy({ $0.isHexDigit }) else {
                    return false
                }
                groups += 1
            }
            guard index < end else {
                break
            }
            index += 1  // ":"
            if index < end, bytes[index] == 0x3A {
                guard !compressed else {
                    return false
                }
                compressed = true
                index += 1
            } else if index == end {
                return false
            }
        }
        if hasIPv4 {
            return compressed ? groups <= 4 : groups == 6
        }
        return compressed ? groups <= 6 : groups == 8
    }
}

extension UInt8 {
    /// ASCII letter.
    var isASCIILetter: Bool {
        (self >= 0x41 && self <= 0x5A) || (self >= 0x61 && self <= 0x7A)
    }

    /// ASCII digit.
    var isDigit: Bool {
        self >= 0x30 && self <= 0x39
    }

    /// ASCII letter or digit (Let-dig).
    var isLetterOrDigit: Bool {
        isASCIILetter || isDigit
    }

    /// ASCII hexadecimal digit.
    var isHexDigit: Bool {
        isDigit || (self >= 0x41 && self <= 0x46) || (self >= 0x61 && self <= 0x66)
    }

    /// The octet with an ASCII capital letter lower-cased.
    var asciiLowercased: UInt8 {
        self >= 0x41 && self <= 0x5A ? self + 0x20 : self
    }

    /// atext (RFC 5322 §3.2.3) plus UTF-8 octets (RFC 6531 §3.3).
    var isAtomText: Bool {
        switch self {
        case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x80...0xFF:
            return true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2F,
             0x3D, 0x3F, 0x5E, 0x5F, 0x60, 0x7B, 0x7C, 0x7D, 0x7E:
            return true
        default:
            return false
        }
    }
}
