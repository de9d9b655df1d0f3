// AddressError.swift: every reason an address is refused, each with a stable
// name (used by the test vectors in docs/spec-vectors.txt) and a message that
// says what is wrong and, where it helps, what to do.

/// Why a text is not a usable e-mail address.
public enum AddressError: Error, Equatable, Sendable {
    case empty
    case missingAt
    case emptyLocalPart
    case localPartTooLong(octets: Int)
    case localPartDots
    case localPartInvalidCharacter
    case localPartBadQuoting
    case emptyDomain
    case domainTooLong(octets: Int)
    case domainInvalid
    case pathTooLong(octets: Int)
    case notUTF8
    case onionV2
    case onionWrongLength(characters: Int)
    case onionNotBase32
    case onionBadVersion(UInt8)
    case onionBadChecksum
    case onionBadKey
    case onionTooManyLabels
    case fingerprintNotBase32
    case fingerprintTooShort(characters: Int, minimum: Int)
    case fingerprintTooLong(characters: Int)
    case fingerprintNonCanonical

    /// A stable identifier, e.g. "onion-checksum".
    public var name: String {
        switch self {
        case .empty: return "empty"
        case .missingAt: return "missing-at"
        case .emptyLocalPart: return "local-part-empty"
        case .localPartTooLong: return "local-part-too-long"
        case .localPartDots: return "local-part-dots"
        case .localPartInvalidCharacter: return "local-part-character"
        case .localPartBadQuoting: return "local-part-quoting"
        case .emptyDomain: return "domain-empty"
        case .domainTooLong: return "domain-too-long"
        case .domainInvalid: return "domain-invalid"
        case .pathTooLong: return "path-too-long"
        case .notUTF8: return "not-utf8"
        case .onionV2: return "onion-v2"
        case .onionWrongLength: return "onion-length"
        case .onionNotBase32: return "onion-base32"
        case .onionBadVersion: return "onion-version"
        case .onionBadChecksum: return "onion-checksum"
        case .onionBadKey: return "onion-key"
        case .onionTooManyLabels: return "onion-labels"
        case .fingerprintNotBase32: return "fingerprint-base32"
        case .fingerprintTooShort: return "fingerprint-too-short"
        case .fingerprintTooLong: return "fingerprint-too-long"
        case .fingerprintNonCanonical: return "fingerprint-noncanonical"
        }
    }

    /// A sentence for the user.
    public var message: String {
        switch self {
        case .empty: return "the address is empty"
        case .missingAt: return "an address needs an @ between the local part and the domain"
        case .emptyLocalPart: return "the part before the @ is empty"
        case .localPartTooLong(let n):
            return "the part before the @ is " + String(n) + " octets long; at most 64 are allowed (RFC 5321 4.5.3.1.1)"
        case .localPartDots: return "the part before the @ may not start or end with a dot or hold two dots in a row"
        case .localPartInvalidCharacter:
            return "the part before the @ holds a character that needs quoting (RFC 5321 4.1.2)"
        case .localPartBadQuoting: return "the quoted part before the @ is not closed or escapes badly"
        case .emptyDomain: return "the part after the @ is empty"
        case .domainTooLong(let n):
            return "the domain is " + String(n) + " octets long; at most 255 are allowed (RFC 5321 4.5.3.1.2)"
        case .domainInvalid: return "the domain is not a valid host name or address literal"
        case .pathTooLong(let n):
            return "the address is " + String(n) + " octets long with its brackets; at most 256 are allowed (RFC 5321 4.5.3.1.3)"
        case .notUTF8: return "the address is not valid UTF-8"
        case .onionV2:
            return "this is a version 2 onion address (16 characters); Tor retired those in 2021: ask for the 56-character v3 address"
        case .onionWrongLength(let n):
            return "a v3 onion name has 56 characters, this one has " + String(n)
        case .onionNotBase32: return "the onion name holds characters outside base32 (a-z, 2-7)"
        case .onionBadVersion(let v):
            return "the onion name says version " + String(v) + "; only version 3 exists"
        case .onionBadChecksum: return "the onion name's checksum does not match: a character is mistyped"
        case .onionBadKey:
            return "the onion name's checksum is right but its key is not a valid Ed25519 public key: no onion service can have this name"
        case .onionTooManyLabels:
            return "only one label (the TLS fingerprint) may stand before the onion name"
        case .fingerprintNotBase32: return "the fingerprint label holds characters outside base32 (a-z, 2-7)"
        case .fingerprintTooShort(let n, let minimum):
            return "the fingerprint label has " + String(n) + " characters; at least " + String(minimum)
                + " are needed for it to mean anything"
        case .fingerprintTooLong(let n):
            return "the fingerprint label has " + String(n) + " characters; a full one has 52"
        case .fingerprintNonCanonical:
            return "the 52-character fingerprint label does not encode a SHA-256 value (its last character is impossible)"
        }
    }
}
