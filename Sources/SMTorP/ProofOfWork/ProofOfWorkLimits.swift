// ProofOfWorkLimits.swift: every limit of proof-of-work verification, named,
// in one place, with its reason.

/// The limits of stamp verification.
public struct ProofOfWorkLimits: Equatable, Sendable {
    /// How far a stamp's date may be from the server's clock, either way, in
    /// seconds: 2 days. Wide enough for a message that waits in a queue and
    /// for a sender's clock that is a day off; it bounds how long nonces are
    /// remembered.
    public var dateWindow: Int64
    /// How long past the end of its date window a spent nonce is still kept,
    /// in seconds: 1 day, so that clock steps on the server do not reopen a
    /// window for a replay.
    public var spentNonceGrace: Int64
    /// Argon2id verifications per session: 20. One costs as much as one
    /// solving attempt, so an unlimited number would let a client make the
    /// server work as hard as itself.
    public var argon2VerificationsPerSession: Int
    /// The longest stamp text: 1000 octets. A stamp of the longest address
    /// (256 octets, 410 in base32) with an Equihash solution is about 600.
    /// (RCPT lines carrying a stamp exceed RFC 5321's 512 octets, which
    /// §4.5.3.1.4 lets an extension raise.)
    public var maximumStampLength: Int
    /// The longest decoded solution: 256 bytes (Equihash (96, 5) needs 76).
    public var maximumSolutionLength: Int

    /// Creates limits; every argument defaults to the value documented above.
    public init(dateWindow: Int64 = 2 * 86_400,
                spentNonceGrace: Int64 = 86_400,
                argon2VerificationsPerSession: Int = 20,
                maximumStampLength: Int = 1000,
                maximumSolutionLength: Int = 256) {
        self.dateWindow = dateWindow
        self.spentNonceGrace = spentNonceGrace
        self.argon2VerificationsPerSession = argon2VerificationsPerSession
        self.maximumStampLength = maximumStampLength
        self.maximumSolutionLength = maximumSolutionLength
    }
}
