// RecipientProofChecking.swift: the small interface through which the SMTP
// server session asks for proof of work (what to announce after EHLO, and
// the verdict on one RCPT), so that it never sees stores or kernels.

/// What the server session needs from proof-of-work checking.
public protocol RecipientProofChecking {
    /// The `POW` EHLO keyword line at `now` (without "250-").
    func ehloKeyword(at now: Int64) -> String
    /// The verdict on the RCPT of `recipient` with ESMTP `parameters`;
    /// `argon2` is the session's counter. A malformed or repeated `POW`
    /// parameter is `.forged(.malformed(.syntax))`.
    mutating func check(parameters: [ESMTPParameter], recipient: SMTorPAddress, now: Int64,
                        argon2: inout Argon2VerificationCounter) -> PowOutcome
}

extension StampVerifier: RecipientProofChecking {
    /// `POW eqh96-5=8 a2id-1m=2 hc1=...` for the registry at `now`.
    public func ehloKeyword(at now: Int64) -> String {
        PowExtension.announcement(registry.requirement(at: now))
    }

    /// Finds the `POW` parameter and verifies it.
    public mutating func check(parameters: [ESMTPParameter], recipient: SMTorPAddress, now: Int64,
                               argon2: inout Argon2VerificationCounter) -> PowOutcome {
        let text: String?
        do throws(StampError) {
            text = try PowExtension.stampText(in: parameters)
        } catch {
            return .forged(.malformed(error))
        }
        return verify(stampText: text, recipient: recipient, now: now, argon2: &argon2)
    }
}
