// PowAlgorithm.swift: the proof-of-work algorithms a stamp can name, by the
// identifier written in stamps and in the EHLO `POW` keyword (docs/spec.md
// §5).
//
// Untrusted input: identifiers come from stamps and EHLO replies received
// from the network; an unknown one is nil, never a crash.

/// A proof-of-work algorithm, with its parameters fixed by its identifier.
public enum PowAlgorithm: Equatable, Hashable, Sendable {
    /// Equihash (n, k) = (96, 5) (include/smtorp_core.h), `eqh96-5`: the
    /// preferred puzzle, memory-hard to solve (14 MB) and cheap to verify
    /// (32 BLAKE2b calls).
    case equihash96x5
    /// Argon2id with 1 MiB of memory, one pass, one lane, `a2id-1m`: simple to
    /// implement anywhere, but as costly to verify as one solving attempt, so
    /// verifications are rate-limited per session.
    case argon2id1MiB
    /// Legacy hashcash over SHA-256, `hc1`: not memory-hard; accepted only
    /// while deprecated, at an effort that doubles over time.
    case hashcash1

    /// Every algorithm, in order of preference.
    public static let all: [PowAlgorithm] = [.equihash96x5, .argon2id1MiB, .hashcash1]

    /// The identifier in stamps and announcements.
    public var identifier: String {
        switch self {
        case .equihash96x5: return "eqh96-5"
        case .argon2id1MiB: return "a2id-1m"
        case .hashcash1: return "hc1"
        }
    }

    /// The algorithm of `identifier` (exact, lower case), or nil.
    public init?(identifier: String) {
        for algorithm in Self.all where algorithm.identifier == identifier {
            self = algorithm
            return
        }
        return nil
    }

    /// Whether one verification costs as much as one solving attempt (so
    /// verifications must be rate-limited).
    public var isCostlyToVerify: Bool { self == .argon2id1MiB }
}
