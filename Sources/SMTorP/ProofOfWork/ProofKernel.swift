// ProofKernel.swift: the hash computations of stamp verification, behind a
// protocol so that the verifier stays pure and its ordering can be tested
// with a counting fake (the real kernel, CoreProofKernel, is the C core's).
//
// The work rule of eqh96-5 and a2id-1m (the same as Tor's onion-service
// proof of work, proposal 327): a solution is valid when its
// algorithm-specific check passes and R * effort <= 2^32 - 1, where R is the
// first four bytes, big endian, of the algorithm's final hash
// (BLAKE2b-256(solution || challenge) for Equihash, the Argon2id output for
// Argon2id). The expected number of solving attempts is then `effort`. The
// legacy hc1 counts leading zero bits of SHA-1 instead (effort 2^bits).

/// What a kernel says about a solution.
public enum KernelVerdict: Equatable, Sendable {
    /// The solution is valid for the challenge at the claimed effort.
    case valid
    /// The solution is not valid; the reason is for replies and logs.
    case invalid(reason: String)
    /// This kernel cannot verify the algorithm (not built in): a temporary
    /// refusal, not the sender's fault.
    case unavailable
}

/// The hash computations: the challenge digest and the solution check.
public protocol ProofKernel {
    /// SHA-256 of `bytes` (32 bytes), the stamp's challenge digest.
    func digest(_ bytes: [UInt8]) -> [UInt8]
    /// Checks `solution` of `algorithm` for `challenge` at `effort`.
    mutating func verify(algorithm: PowAlgorithm, challenge: [UInt8], effort: UInt32,
                         solution: [UInt8]) -> KernelVerdict
}
