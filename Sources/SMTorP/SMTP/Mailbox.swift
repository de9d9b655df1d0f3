// Mailbox.swift — an e-mail address (local part @ domain) as used in the SMTP
// envelope, and its rendering back to RFC 5321 form.
//
// Untrusted input: mailboxes are built by the path parser (Path.swift) from
// MAIL/RCPT arguments sent by the peer; this file only renders and compares.
// RFCs: RFC 5321 §4.1.2 (Mailbox, Local-part, Dot-string, Quoted-string),
// RFC 6531 §3.3 (UTF-8 in local parts and domains).

/// An address in the SMTP envelope: `local-part@domain`.
///
/// The local part is stored unquoted and unescaped (`"a@b"@x` has the local
/// part `a@b`); it is case-sensitive (RFC 5321 §2.4). The domain is stored
/// with ASCII letters lower-cased; an address literal is kept as written,
/// brackets included (`[192.0.2.1]`, `[IPv6:2001:db8::1]`).
public struct Mailbox: Equatable, Hashable, Sendable {
    /// The local part, unquoted and unescaped.
    public var localPart: String
    /// The domain (ASCII lower-cased) or the address literal with brackets.
    public var domain: String
    /// Whether the local part was written as a quoted string.
    public var isQuotedLocalPart: Bool

    /// Creates a mailbox from its parts.
    public init(localPart: String, domain: String, isQuotedLocalPart: Bool = false) {
        self.localPart = localPart
        self.domain = domain
        self.isQuotedLocalPart = isQuotedLocalPart
    }

    /// The mailbox in RFC 5321 form, e.g. `alice@example.onion` or
    /// `"a b"@example.onion`.
    ///
    /// The local part is quoted only when it is not a valid Dot-string
    /// (RFC 5321 §4.1.2: a local part that can be a Dot-string should not be
    /// quoted), with `"` and `\` escaped.
    public var text: String {
        var bytes: [UInt8] = []
        let local = Array(localPart.utf8)
        if Mailbox.isDotString(local) {
            bytes.append(contentsOf: local)
        } else {
            bytes.append(0x22)
            for byte in local {
                if byte == 0x22 || byte == 0x5C {
                    bytes.append(0x5C)
                }
                bytes.append(byte)
            }
            bytes.append(0x22)
        }
        if !domain.isEmpty {
            bytes.append(0x40)
            bytes.append(contentsOf: domain.utf8)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether local part and domain are plain ASCII (no SMTPUTF8 needed).
    public var isASCII: Bool {
        localPart.utf8.allSatisfy { $0 < 0x80 } && domain.utf8.allSatisfy { $0 < 0x80 }
    }

    /// Whether `other` names the same mailbox: the same local part (exact,
    /// quoting aside) and the same domain (ASCII case-insensitive).
    public func isSameAddress(as other: Mailbox) -> Bool {
        guard localPart.utf8.elementsEqual(other.localPart.utf8) else {
            return false
        }
        return domain.utf8.elementsEqual(other.domain.utf8) { left, right in
            left.asciiLowercased == right.asciiLowercased
        }
    }

    /// Whether `bytes` is a Dot-string: atoms of atext separated by single
    /// dots (UTF-8 allowed, RFC 6531 §3.3).
    static func isDotString(_ bytes: [UInt8]) -> Bool {
        guard let first = bytes.first, let last = bytes.last,
              first != 0x2E, last != 0x2E else {
            return false
        }
        var previousWasDot = false
        for byte in bytes {
            if byte == 0x2E {
                if previousWasDot {
                    return false
                }
                previousWasDot = true
            } else if byte.isAtomText {
                previousWasDot = false
            } else {
                return false
            }
        }
        return true
    }
}
