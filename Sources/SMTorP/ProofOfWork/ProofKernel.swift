// ProofKernel.swift: the hash computations of stamp verification, behind a
// protocol so that the verifier stays pure and its ordering can be tested
// with a counting fake (the real kernel, CoreProofKernel, is the C core's).
//
// The work rule, for every algorithm (the same as Tor's onion-service proof
// of work, proposal 327): a solution is valid when its algorithm-specific
// check passes and R * effort <= 2^32 - 1, where R is the first four bytes,
// big endian, of the algorithm's final hash over challenge || solution. The
// expected number of solving attempts is then `effort`.

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

/// The effort rule shared by kernels and solvers: whether the 32-bit value
/// `r` (first four bytes of the final hash, big endian) meets `effort`.
public func powMeetsEffort(_ hash: [UInt8], effort: UInt32) -> Bool {
    guard hash.count >= 4 else { return false }
    let r = UInt64(hash[0]) << 24 | UInt64(hash[1]) << 16 | UInt64(hash[2]) << 8 | UInt64(hash[3])
    return r * UInt64(effort) <= UInt64(UInt32.max)
}
