// StampError.swift: why a stamp's text was refused, one case per reason
// (docs/spec.md §5).

/// Why `Stamp.parse` refused a text.
public enum StampError: Error, Equatable, Sendable {
    /// Not `version:algorithm:effort:recipient:date:nonce:solution`: wrong
    /// number of fields, an empty field, or a character outside esmtp-value.
    case syntax
    /// The version field is not `1`.
    case unknownVersion
    /// The algorithm identifier is not one this node knows.
    case unknownAlgorithm
    /// The effort is not a decimal 1 ... 4294967295 without leading zeros.
    case badEffort
    /// The recipient is not canonical base32 of a normalised SMTorP address.
    case badRecipient
    /// The date is not a valid UTC `YYYYMMDDhhmm`.
    case badDate
    /// The nonce is not canonical base32 of exactly 16 bytes.
    case badNonce
    /// The solution is empty, not canonical base32, or over the limit.
    case badSolution
    /// The text is longer than `ProofOfWorkLimits.maximumStampLength`.
    case tooLong

    /// A short English description, for reply texts and logs.
    public var text: String {
        switch self {
        case .syntax: return "stamp syntax"
        case .unknownVersion: return "unknown stamp version"
        case .unknownAlgorithm: return "unknown algorithm"
        case .badEffort: return "bad effort"
        case .badRecipient: return "bad recipient"
        case .badDate: return "bad date"
        case .badNonce: return "bad nonce"
        case .badSolution: return "bad solution"
        case .tooLong: return "stamp too long"
        }
    }
}
