// ServerProofOfWork.swift: the onion listener's proof-of-work checking
// (docs/spec.md §5.5): the verifier over the node's durable spent-nonce
// store and the C kernel, with the clock. The session asks through its
// `.checkStamp` effect; this answers with the reply, if any, that refuses
// the recipient. Runs on the loop thread: a check costs at most one
// Argon2id evaluation (about a millisecond, rate-limited per session) or 32
// BLAKE2b calls, plus one durable write for an accepted stamp.
//
// Untrusted input: the `POW=` values of RCPT commands (StampVerifier parses
// them); the recipient was accepted by the node's policy before.
import SMTorPCore

/// Proof-of-work checking for one listener.
public final class ServerProofOfWork {
    /// The verifier (its store is durable).
    public private(set) var verifier: StampVerifier<DoubleSpendStore, CoreProofKernel>
    /// The node's onion name: the canonical domain of its local recipients.
    let hostname: String
    let clock: () -> Int64
    let logger: Logger

    /// Opens the spent-nonce store in `directory`. `clock` gives Unix seconds
    /// (injected in tests).
    public init(directory: String, registry: AlgorithmRegistry, hostname: String, logger: Logger,
                limits: ProofOfWorkLimits = ProofOfWorkLimits(),
                clock: @escaping () -> Int64 = { smtorp_clock_unix_seconds() }) throws(CoreError) {
        let store = try DoubleSpendStore(directory: directory, now: clock())
        verifier = StampVerifier(registry: registry, limits: limits, store: store, kernel: CoreProofKernel())
        self.hostname = hostname
        self.clock = clock
        self.logger = logger
    }

    /// What the listener announces now.
    public func requirements() -> [PowRequirement] {
        verifier.requirements(at: clock())
    }

    /// A counter for a new session.
    public func newSessionCounter() -> Argon2VerificationCounter {
        Argon2VerificationCounter(limit: verifier.limits.argon2VerificationsPerSession)
    }

    /// The reply refusing `recipient` for its `stamp`, or nil when the stamp
    /// is accepted (and its nonce spent). `connection` names the session in
    /// the log.
    public func check(stamp: String?, recipient: Mailbox, argon2: inout Argon2VerificationCounter,
                      connection: Int) -> Reply? {
        // The policy accepted the recipient as local: its canonical address
        // is its local part at this node's onion name.
        let canonical = Mailbox(localPart: recipient.localPart, domain: hostname,
                                isQuotedLocalPart: recipient.isQuotedLocalPart)
        let address: SMTorPAddress?
        do throws(AddressError) {
            address = try Address.parseSMTorP(canonical.text)
        } catch {
            address = nil
        }
        guard let address else {
            return Reply(550, EnhancedStatusCode(5, 1, 3), "Recipient is not an SMTorP address")
        }
        let outcome = verifier.verify(stampText: stamp, recipient: address, now: clock(), argon2: &argon2)
        switch outcome {
        case .accepted:
            // The algorithm and effort, never the recipient (metadata).
            var what = ""
            do throws(StampError) {
                let parsed = try Stamp.parse(stamp ?? "")
                what = " (" + parsed.algorithm.identifier + " effort " + String(parsed.effort) + ")"
            } catch {}
            logger.info("connection " + String(connection) + ": POW stamp accepted" + what)
        case .storeFailure(let why):
            logger.error("connection " + String(connection) + ": cannot record a spent stamp: " + why)
        case .missing:
            break
        default:
            logger.info("connection " + String(connection) + ": POW stamp refused: "
                        + (outcome.reply?.lines.first ?? ""))
        }
        return outcome.reply
    }
}
