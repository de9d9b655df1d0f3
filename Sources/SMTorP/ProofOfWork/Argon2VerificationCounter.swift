// Argon2VerificationCounter.swift: the per-session limit on Argon2id stamp
// verifications (ProofOfWorkLimits.argon2VerificationsPerSession). The
// session owns one and hands it to the verifier for every RCPT.

/// Counts the costly verifications of one session against its limit.
public struct Argon2VerificationCounter: Equatable, Sendable {
    /// The most verifications allowed.
    public let limit: Int
    /// The verifications made so far.
    public private(set) var used: Int = 0

    /// Creates a counter for one session.
    public init(limit: Int = ProofOfWorkLimits().argon2VerificationsPerSession) {
        self.limit = limit
    }

    /// Takes one verification from the allowance: false, and nothing
    /// counted, once the limit is reached.
    public mutating func admit() -> Bool {
        guard used < limit else { return false }
        used += 1
        return true
    }

    /// Whether another verification would be admitted.
    public var isExhausted: Bool { used >= limit }
}
