// CoreProofKernel.swift: the proof kernel on the C core (SHA-256 and the
// Equihash verifier of include/smtorp_core.h).
//
// Solutions, per algorithm (challenge = 32 bytes, see Stamp):
//   eqh96-5  attempt (4 bytes) || Equihash (96, 5) solution (72 bytes),
//            for the seed challenge || attempt (36 bytes, a multiple of 4 as
//            the kernel requires); the effort is checked on
//            BLAKE2b-256(solution || challenge) (smtorp_pow_effort_check,
//            the same function the C solver uses).
//   a2id-1m  the 8-byte little-endian nonce of the C core's Argon2id puzzle
//            (smtorp_argon2_pow_verify: opslimit 1, 1 MiB, one lane; the
//            effort is checked on the Argon2id output itself).
//   hc1      the whole legacy hashcash v1 token; SHA-1 of it must begin
//            with the zero bits it claims (smtorp_hashcash_check), and the
//            verifier already compared its claim (2^bits) with the effort.
//
// Untrusted input: solution bytes from stamps (lengths checked before any C
// call; the C verifier checks everything else).
import SMTorPCore

/// The proof kernel of the C core.
public struct CoreProofKernel: ProofKernel {
    /// Bytes of an Argon2id solution (a little-endian 64-bit nonce).
    public static let argon2NonceLength = 8
    /// Argon2id memory for `a2id-1m`.
    public static let argon2Memory = 1 << 20
    /// Bytes of the Equihash attempt counter in front of its solution.
    public static let equihashAttemptLength = 4

    /// Creates the kernel.
    public init() {}

    /// SHA-256 through the C core.
    public func digest(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let result = bytes.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                smtorp_sha256(input.baseAddress, input.count, output.baseAddress)
            }
        }
        // SHA-256 of memory in hand cannot fail; a zero digest matches nothing.
        return result == SMTORP_OK ? out : [UInt8](repeating: 0, count: 32)
    }

    /// Verifies with the C core.
    public mutating func verify(algorithm: PowAlgorithm, challenge: [UInt8], effort: UInt32,
                                solution: [UInt8]) -> KernelVerdict {
        switch algorithm {
        case .equihash96x5:
            let n = UInt32(SMTORP_EQUIHASH_DEFAULT_N), k = UInt32(SMTORP_EQUIHASH_DEFAULT_K)
            let length = smtorp_equihash_solution_length(n, k)
            guard solution.count == Self.equihashAttemptLength + length else {
                return .invalid(reason: "wrong solution length")
            }
            let seed = challenge + solution[0..<Self.equihashAttemptLength]
            let proof = Array(solution[Self.equihashAttemptLength...])
            let result = seed.withUnsafeBufferPointer { s in
                proof.withUnsafeBufferPointer { p in
                    smtorp_equihash_verify(n, k, s.baseAddress, s.count, p.baseAddress, p.count)
                }
            }
            guard result == SMTORP_POW_OK else {
                return .invalid(reason: String(cString: smtorp_pow_result_string(result)))
            }
            let effortResult = solution.withUnsafeBufferPointer { s in
                challenge.withUnsafeBufferPointer { c in
                    smtorp_pow_effort_check(s.baseAddress, s.count, c.baseAddress, c.count, effort)
                }
            }
            switch effortResult {
            case SMTORP_WORK_OK: return .valid
            case SMTORP_WORK_INSUFFICIENT_EFFORT: return .invalid(reason: "effort not met")
            default: return .unavailable
            }
        case .hashcash1:
            guard solution.count <= Int(SMTORP_HASHCASH_STAMP_MAX) else { return .invalid(reason: "token too long") }
            var bits: UInt32 = 0
            let result = solution.withUnsafeBufferPointer { token in
                token.withMemoryRebound(to: CChar.self) { smtorp_hashcash_check($0.baseAddress, $0.count, &bits) }
            }
            switch result {
            case SMTORP_WORK_OK: return .valid
            case SMTORP_WORK_INSUFFICIENT_EFFORT: return .invalid(reason: "effort not met")
            case SMTORP_WORK_MALFORMED: return .invalid(reason: "not a hashcash v1 token")
            default: return .unavailable
            }
        case .argon2id1MiB:
            guard solution.count == Self.argon2NonceLength else { return .invalid(reason: "wrong solution length") }
            var nonce: UInt64 = 0
            for (i, b) in solution.enumerated() { nonce |= UInt64(b) << (8 * UInt64(i)) }
            let result = smtorp_argon2_pow_verify(challenge, challenge.count, effort, 1, Self.argon2Memory, nonce)
            switch result {
            case SMTORP_WORK_OK: return .valid
            case SMTORP_WORK_INSUFFICIENT_EFFORT: return .invalid(reason: "effort not met")
            default: return .unavailable
            }
        }
    }
}
