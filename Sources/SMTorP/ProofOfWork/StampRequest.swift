// StampRequest.swift: what a sender solves for one recipient (docs/spec.md
// §5.4): the algorithm and effort picked from what the server asks, the
// stamp's fields, and the stamp text once a solution is found. Pure: the
// date and the nonce are arguments; the solving is the C core's
// (StampMinter), on worker threads.

/// One stamp to mint.
public struct StampRequest: Equatable, Sendable {
    /// The recipient the work is for.
    public var recipient: SMTorPAddress
    /// The algorithm and effort to solve at.
    public var requirement: PowRequirement
    /// The stamp's date.
    public var date: StampDate
    /// 16 random bytes (unused by `hc1`, whose token has its own rand).
    public var nonce: [UInt8]

    /// Creates a request.
    public init(recipient: SMTorPAddress, requirement: PowRequirement, date: StampDate, nonce: [UInt8]) {
        self.recipient = recipient
        self.requirement = requirement
        self.date = date
        self.nonce = nonce
    }

    /// The offer to solve for `recipient`: the server's first (most
    /// preferred) that this node can mint. `hc1` cannot carry an address
    /// with "=" (the token is the parameter value as it is).
    public static func choose(from offers: [PowRequirement], for recipient: SMTorPAddress) -> PowRequirement? {
        offers.first { offer in
            offer.algorithm != .hashcash1 || !recipient.text.utf8.contains(UInt8(ascii: "="))
        }
    }

    /// The stamp without its solution (its challenge is what is solved).
    public var unsolved: Stamp {
        Stamp(algorithm: requirement.algorithm, effort: requirement.effort, recipient: recipient, date: date,
              nonce: nonce, solution: [])
    }

    /// The challenge for `eqh96-5` and `a2id-1m`: `hash` (SHA-256) of the
    /// unsolved stamp text.
    public func challenge(hash: ([UInt8]) -> [UInt8]) -> [UInt8] {
        unsolved.challenge(hash: hash)
    }

    /// The hashcash bits for `hc1`: the least that carry the effort.
    public var hashcashBits: Int {
        Stamp.legacyBits(forEffort: requirement.effort)
    }

    /// The hashcash date field for `hc1`: YYMMDDhhmm (UTC).
    public var hashcashDate: String {
        String(date.text.dropFirst(2))
    }

    /// The stamp text for `solution` (for `hc1` the solution is the token).
    public func stampText(solution: [UInt8]) -> String {
        if requirement.algorithm == .hashcash1 { return String(decoding: solution, as: UTF8.self) }
        var stamp = unsolved
        stamp.solution = solution
        return stamp.render()
    }
}
