// Address.swift: SMTorP and legacy e-mail addresses (docs/spec.md §2).
//
//   smtorp-address = local-part "@" [ fingerprint-label "." ] onion-name ".onion"
//
// Untrusted input: addresses typed by users, read from address books and
// mailto: URLs, or received from the network. Parsing is strict and every
// refusal is a typed AddressError naming the reason.
// Standards: RFC 5321 §4.1.2 (local part, domain), §4.5.3.1 (lengths),
// RFC 6531 (UTF-8 local parts), Tor rend-spec-v3 §6 (onion names),
// RFC 4648 (base32), RFC 7686 (.onion).
import SMTorPCore

/// A parsed address: either SMTorP (an onion domain) or legacy (anything
/// else). Legacy addresses parse so they can be refused when mixed with
/// SMTorP ones and auto-upgraded later, but they are never SMTorP.
public enum Address: Equatable, Sendable {
    case smtorp(SMTorPAddress)
    case legacy(LegacyAddress)

    /// The normalised text of the address.
    public var text: String {
        switch self {
        case .smtorp(let a): return a.text
        case .legacy(let a): return a.text
        }
    }

    /// The address as an SMTP envelope mailbox (MAIL FROM / RCPT TO).
    public var mailbox: Mailbox {
        switch self {
        case .smtorp(let a): return Mailbox(localPart: a.localPart, domain: a.domain, isQuotedLocalPart: a.isQuoted)
        case .legacy(let l): return Mailbox(localPart: l.localPart, domain: l.domain, isQuotedLocalPart: l.isQuoted)
        }
    }

    /// Parses an address (without angle brackets).
    /// - Parameter minimumFingerprintLength: the shortest fingerprint label
    ///   accepted (policy; at least 16 characters, 80 bits).
    public static func parse(_ text: String,
                             minimumFingerprintLength: Int = SMTorPAddress.minimumFingerprintLength)
        throws(AddressError) -> Address {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw .empty }
        guard let at = Self.separatingAt(bytes) else {
            if bytes.first == UInt8(ascii: "\""), bytes.contains(UInt8(ascii: "@")) { throw .localPartBadQuoting }
            throw .missingAt
        }
        let local = Array(bytes[..<at])
        let domain = Array(bytes[(at + 1)...])
        guard !local.isEmpty else { throw .emptyLocalPart }
        guard !domain.isEmpty else { throw .emptyDomain }
        guard Path.isValidUTF8(bytes[...]) else { throw .notUTF8 }
        guard local.count <= 64 else { throw .localPartTooLong(octets: local.count) }
        guard domain.count <= 255 else { throw .domainTooLong(octets: domain.count) }
        let lowerDomain = Array(lowercasedASCII(String(decoding: domain, as: UTF8.self)).utf8)
        let labels = lowerDomain.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        let isOnion = labels.count >= 2 && labels.last.map({ Array($0) }) == Array("onion".utf8)
        // SMTorP addresses are case-insensitive and normalised to lower case;
        // a legacy local part keeps its case (RFC 5321 §2.4).
        let localPart = try Self.normalisedLocalPart(local, lowercase: isOnion)
        let result: Address
        if isOnion {
            result = .smtorp(try SMTorPAddress(localPart: localPart, labels: labels.map { Array($0) },
                                               minimumFingerprintLength: minimumFingerprintLength))
        } else {
            guard Self.isValidLegacyDomain(lowerDomain) else { throw .domainInvalid }
            result = .legacy(LegacyAddress(localPart: localPart.text, isQuoted: localPart.quoted,
                                           domain: String(decoding: lowerDomain, as: UTF8.self)))
        }
        let pathLength = result.text.utf8.count + 2
        guard pathLength <= 256 else { throw .pathTooLong(octets: pathLength) }
        return result
    }

    /// Parses an address that must be SMTorP; a legacy one is refused.
    public static func parseSMTorP(_ text: String,
                                   minimumFingerprintLength: Int = SMTorPAddress.minimumFingerprintLength)
        throws(AddressError) -> SMTorPAddress? {
        if case .smtorp(let a) = try parse(text, minimumFingerprintLength: minimumFingerprintLength) { return a }
        return nil
    }

    /// The index of the @ that separates local part and domain: the last one
    /// outside a quoted local part.
    static func separatingAt(_ bytes: [UInt8]) -> Int? {
        if bytes.first == UInt8(ascii: "\"") {
            var i = 1
            while i < bytes.count {
                if bytes[i] == UInt8(ascii: "\\") { i += 2; continue }
                if bytes[i] == UInt8(ascii: "\"") {
                    return i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "@") ? i + 1 : nil
                }
                i += 1
            }
            return nil
        }
        return bytes.lastIndex(of: UInt8(ascii: "@"))
    }

    /// Validates the local part and returns it normalised: ASCII lower case;
    /// a quoted string that is a valid dot-atom loses its quotes (RFC 5321
    /// §4.1.2: such a local part SHOULD NOT be quoted).
    static func normalisedLocalPart(_ local: [UInt8], lowercase: Bool) throws(AddressError)
        -> (text: String, quoted: Bool) {
        func cased(_ b: [UInt8]) -> [UInt8] {
            lowercase ? Array(lowercasedASCII(String(decoding: b, as: UTF8.self)).utf8) : b
        }
        if local.first == UInt8(ascii: "\"") {
            guard local.count >= 2, local.last == UInt8(ascii: "\"") else { throw .localPartBadQuoting }
            var content: [UInt8] = []
            var i = 1
            while i < local.count - 1 {
                let b = local[i]
                if b == UInt8(ascii: "\\") {
                    guard i + 1 < local.count - 1 else { throw .localPartBadQuoting }
                    let next = local[i + 1]
                    guard next >= 32 && next <= 126 else { throw .localPartBadQuoting }
                    content.append(next)
                    i += 2
                    continue
                }
                // qtextSMTP: %d32-33 / %d35-91 / %d93-126, plus UTF-8 (RFC 6531)
                guard (b >= 32 && b <= 126 && b != UInt8(ascii: "\"")) || b >= 0x80 else {
                    throw .localPartBadQuoting
                }
                content.append(b)
                i += 1
            }
            guard !content.isEmpty else { throw .emptyLocalPart }
            let lower = cased(content)
            if Mailbox.isDotString(lower) { return (String(decoding: lower, as: UTF8.self), false) }
            return (String(decoding: lower, as: UTF8.self), true)
        }
        if local.first == UInt8(ascii: ".") || local.last == UInt8(ascii: ".") { throw .localPartDots }
        var previousDot = false
        for b in local {
            if b == UInt8(ascii: ".") {
                if previousDot { throw .localPartDots }
                previousDot = true
                continue
            }
            previousDot = false
            guard Self.isAtext(b) else { throw .localPartInvalidCharacter }
        }
        return (String(decoding: cased(local), as: UTF8.self), false)
    }

    /// RFC 5322 atext, plus UTF-8 bytes (RFC 6531 §3.3).
    static func isAtext(_ b: UInt8) -> Bool {
        if b >= 0x80 { return true }
        if (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) { return true }
        return Array("!#$%&'*+-/=?^_`{|}~".utf8).contains(b)
    }

    /// A legacy domain: LDH labels (UTF-8 U-labels allowed, RFC 6531) or an
    /// address literal.
    static func isValidLegacyDomain(_ domain: [UInt8]) -> Bool {
        if domain.first == UInt8(ascii: "[") {
            guard domain.last == UInt8(ascii: "]"), domain.count > 2 else { return false }
            let inner = domain[1..<(domain.count - 1)]
            if PathScanner.isIPv4(inner) { return true }
            let prefix = Array("ipv6:".utf8)
            if inner.count > prefix.count, Array(inner.prefix(prefix.count)) == prefix {
                return PathScanner.isIPv6(inner.dropFirst(prefix.count))
            }
            return false
        }
        let labels = domain.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard labels.count >= 1 else { return false }
        for label in labels {
            guard !label.isEmpty, label.count <= 63, label.first != UInt8(ascii: "-"),
                  label.last != UInt8(ascii: "-") else { return false }
            for b in label where !(b >= 0x80 || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z"))
                                   || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-")) {
                return false
            }
        }
        return true
    }
}

/// An ordinary Internet mail address (no onion domain).
public struct LegacyAddress: Equatable, Sendable {
    /// The local part, unquoted (its case is kept: RFC 5321 §2.4).
    public let localPart: String
    /// Whether the local part needs quotes.
    public let isQuoted: Bool
    /// The domain, ASCII lower case.
    public let domain: String

    /// The address in RFC 5321 form.
    public var text: String {
        Mailbox(localPart: localPart, domain: domain, isQuotedLocalPart: isQuoted).text
    }
}

/// An SMTorP address: a local part at a v3 onion name, optionally with the
/// TLS fingerprint label in front.
public struct SMTorPAddress: Equatable, Hashable, Sendable {
    /// The shortest fingerprint label accepted by default: 16 characters,
    /// 80 bits of the SHA-256.
    public static let minimumFingerprintLength = 16
    /// A full fingerprint label: base32 of 32 bytes, unpadded.
    public static let fullFingerprintLength = 52

    /// The local part, lower case, unquoted.
    public let localPart: String
    /// Whether the local part needs quotes in its text form.
    public let isQuoted: Bool
    /// The onion service name.
    public let onion: OnionAddress
    /// The fingerprint label (a prefix of the full one), if the address has one.
    public let fingerprintLabel: String?

    /// Builds an address from parts already validated.
    public init(localPart: String, onion: OnionAddress, fingerprintLabel: String?) {
        self.localPart = lowercasedASCII(localPart)
        self.isQuoted = !Mailbox.isDotString(Array(self.localPart.utf8))
        self.onion = onion
        self.fingerprintLabel = fingerprintLabel.map { lowercasedASCII($0) }
    }

    init(localPart: (text: String, quoted: Bool), labels: [[UInt8]],
         minimumFingerprintLength: Int) throws(AddressError) {
        guard labels.count <= 3 else { throw .onionTooManyLabels }
        let onionLabel = labels[labels.count - 2]
        onion = try OnionAddress(validating: onionLabel)
        if labels.count == 3 {
            fingerprintLabel = try Self.validatedFingerprintLabel(labels[0], minimum: minimumFingerprintLength)
        } else {
            fingerprintLabel = nil
        }
        self.localPart = localPart.text
        self.isQuoted = localPart.quoted
    }

    static func validatedFingerprintLabel(_ label: [UInt8], minimum: Int) throws(AddressError) -> String {
        for b in label where !((b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z"))
                               || (b >= UInt8(ascii: "2") && b <= UInt8(ascii: "7"))) {
            throw .fingerprintNotBase32
        }
        guard label.count >= max(minimum, minimumFingerprintLength) else {
            throw .fingerprintTooShort(characters: label.count, minimum: max(minimum, minimumFingerprintLength))
        }
        guard label.count <= fullFingerprintLength else { throw .fingerprintTooLong(characters: label.count) }
        let text = String(decoding: label, as: UTF8.self)
        if label.count == fullFingerprintLength && Base32.decode(text) == nil { throw .fingerprintNonCanonical }
        return text
    }

    /// The address as typed back: with its fingerprint label when it has one.
    public var text: String {
        localText + "@" + (fingerprintLabel.map { $0 + "." } ?? "") + onion.hostname
    }

    /// The short form, without the fingerprint label.
    public var shortText: String { localText + "@" + onion.hostname }

    /// The domain, with the fingerprint label when present.
    public var domain: String { (fingerprintLabel.map { $0 + "." } ?? "") + onion.hostname }

    var localText: String {
        Mailbox(localPart: localPart, domain: "", isQuotedLocalPart: isQuoted).text.dropLastAt()
    }

    /// True when the address has the full 52-character label.
    public var isFull: Bool { fingerprintLabel?.utf8.count == Self.fullFingerprintLength }

    /// The same address with the full fingerprint label of `fingerprint`.
    public func upgraded(fingerprint: [UInt8]) -> SMTorPAddress {
        SMTorPAddress(localPart: localPart, onion: onion, fingerprintLabel: Base32.encode(fingerprint))
    }

    /// Whether a server's SPKI SHA-256 `fingerprint` matches the label: the
    /// label must be a prefix of the fingerprint's base32 form. The
    /// comparison takes the same time wherever the first difference is.
    /// An address without a label matches nothing (use trust on first use).
    public func matches(fingerprint: [UInt8]) -> Bool {
        guard let label = fingerprintLabel, fingerprint.count == 32 else { return false }
        let full = Array(Base32.encode(fingerprint).utf8)
        let prefix = Array(label.utf8)
        guard prefix.count <= full.count else { return false }
        return smtorp_constant_time_equal(prefix, full, prefix.count) == 1
    }
}

extension String {
    /// Drops the trailing "@" Mailbox.text renders for an empty domain.
    func dropLastAt() -> String {
        var b = Array(utf8)
        if b.last == UInt8(ascii: "@") { b.removeLast() }
        return String(decoding: b, as: UTF8.self)
    }
}

extension OnionAddress {
    /// Validates a 56-character v3 onion label: base32, version 3, checksum
    /// (rend-spec-v3 §6).
    public init(validating label: [UInt8]) throws(AddressError) {
        if label.count == 16 { throw .onionV2 }
        guard label.count == 56 else { throw .onionWrongLength(characters: label.count) }
        guard let decoded = Base32.decode(String(decoding: label, as: UTF8.self)), decoded.count == 35 else {
            throw .onionNotBase32
        }
        let version = decoded[34]
        guard version == 3 else { throw .onionBadVersion(version) }
        let publicKey = Array(decoded[0..<32])
        let derived: OnionAddress
        do throws(CoreError) {
            derived = try OnionAddress(publicKey: publicKey)
        } catch {
            throw .onionNotBase32
        }
        guard Array(derived.label.utf8) == label else { throw .onionBadChecksum }
        // Tor refuses (SOCKS 0xF6) a name whose key is not a point of the
        // prime-order subgroup; so do we, with a clearer reason.
        guard smtorp_ed25519_is_valid_public_key(publicKey) == 1 else { throw .onionBadKey }
        self = derived
    }

    /// The Ed25519 public key encoded in the name.
    public var publicKey: [UInt8] {
        Array((Base32.decode(label) ?? []).prefix(32))
    }
}
