// StampMinter.swift: mints proof-of-work stamps for outbound mail on C
// worker threads (smtorp_pow_job_*), never on the event loop: the loop
// keeps serving while a stamp is solved, and hears of progress and of the
// end through the C core's wake-up. One job at a time, each using the
// solver threads; requests wait in order. No Swift code runs on a worker
// thread.
//
// Progress: a solve that runs longer than `progressIntervalMilliseconds`
// is reported through `onProgress` (the queue logs it, `smtorp send` prints
// it) at about that interval.
//
// Untrusted input: none (requests come from the node's own queue; the
// efforts from a server's reply were parsed by PowExtension).
import SMTorPCore

/// Mints stamps one after the other on worker threads.
public final class StampMinter {
    /// What became of one request.
    public enum Outcome: Equatable, Sendable {
        /// The stamp text (the `POW=` value).
        case stamp(String)
        /// Why no stamp was made (the C core's words).
        case failed(String)
    }

    /// Milliseconds between progress reports of a long solve: 2 s.
    public static let defaultProgressIntervalMilliseconds: UInt64 = 2000
    /// Milliseconds between progress reports (the first after as long).
    public var progressIntervalMilliseconds = StampMinter.defaultProgressIntervalMilliseconds

    let loop: EventLoop
    /// Solver threads per job.
    public let threads: UInt32
    /// Called on the loop thread for a long solve: the request, attempts so
    /// far, milliseconds so far.
    public var onProgress: ((StampRequest, UInt64, UInt64) -> Void)?

    private var waiting: [(StampRequest, (Outcome) -> Void)] = []
    private var current: (request: StampRequest, done: (Outcome) -> Void, job: OpaquePointer)?
    private var lastReport: UInt64 = 0

    /// A minter on `loop` with `threads` solver threads (0: one per CPU).
    public init(loop: EventLoop, threads: Int = 0) {
        self.loop = loop
        let cpus = smtorp_cpu_count()
        let wanted = threads > 0 ? UInt32(threads) : UInt32(cpus)
        self.threads = max(1, min(wanted, UInt32(SMTORP_EQUIHASH_THREADS_MAX)))
    }

    deinit { cancelAll() }

    /// Requests waiting or running.
    public var pending: Int { waiting.count + (current == nil ? 0 : 1) }

    /// Mints a stamp for `request`; `done` is called on the loop thread,
    /// once, after every earlier request's.
    public func mint(_ request: StampRequest, done: @escaping (Outcome) -> Void) {
        waiting.append((request, done))
        startNext()
    }

    /// Cancels every request: the running one stops within a bucket of
    /// work; no `done` is called for any of them.
    public func cancelAll() {
        waiting = []
        if let current {
            self.current = nil
            smtorp_pow_job_free(current.job)  // cancels and joins
        }
    }

    private func startNext() {
        guard current == nil, !waiting.isEmpty else { return }
        let (request, done) = waiting.removeFirst()
        let challenge = request.challenge(hash: CoreProofKernel().digest)
        let resource = request.recipient.text, date = request.hashcashDate
        var job: OpaquePointer? = nil
        let result: smtorp_result = challenge.withUnsafeBufferPointer { c in
            resource.withCString { r in
                date.withCString { d in
                    var params = smtorp_pow_job_params()
                    switch request.requirement.algorithm {
                    case .equihash96x5: params.kind = SMTORP_POW_JOB_EQUIHASH
                    case .argon2id1MiB: params.kind = SMTORP_POW_JOB_ARGON2ID
                    case .hashcash1: params.kind = SMTORP_POW_JOB_HASHCASH
                    }
                    params.challenge = c.baseAddress
                    params.challenge_len = c.count
                    params.effort = request.requirement.effort
                    params.threads = threads
                    params.bits = UInt32(request.hashcashBits)
                    params.resource = r
                    params.date = d
                    return smtorp_pow_job_start(loop.raw, &params, { job, finished, arg in
                        guard let arg else { return }
                        Unmanaged<StampMinter>.fromOpaque(arg).takeUnretainedValue()
                            .jobEvent(finished: finished != 0)
                    }, Unmanaged.passUnretained(self).toOpaque(), &job)
                }
            }
        }
        guard result == SMTORP_OK, let job else {
            done(.failed("the solver did not start: " + CoreError(result).message))
            startNext()
            return
        }
        current = (request, done, job)
        lastReport = 0
    }

    private func jobEvent(finished: Bool) {
        guard let running = current else { return }
        let elapsed = smtorp_pow_job_elapsed_ms(running.job)
        guard finished else {
            if elapsed >= lastReport + progressIntervalMilliseconds {
                lastReport = elapsed
                onProgress?(running.request, smtorp_pow_job_attempts(running.job), elapsed)
            }
            return
        }
        let result = smtorp_pow_job_result(running.job)
        var solution = [UInt8](repeating: 0, count: Int(SMTORP_HASHCASH_STAMP_MAX) + 1)
        let length = smtorp_pow_job_solution(running.job, &solution, solution.count)
        current = nil
        smtorp_pow_job_free(running.job)
        if result == SMTORP_WORK_OK && length > 0 {
            running.done(.stamp(running.request.stampText(solution: Array(solution[0..<length]))))
        } else {
            running.done(.failed(String(cString: smtorp_work_result_string(result))))
        }
        startNext()
    }
}

extension StampMinter {
    /// Whether stamp text `carried` is for an algorithm `offers` lists, at
    /// no less than its effort (the server checks the rest).
    static func satisfies(_ carried: String, _ offers: [PowRequirement]) -> Bool {
        let stamp: Stamp
        do throws(StampError) { stamp = try Stamp.parse(carried) } catch { return false }
        return offers.contains { $0.algorithm == stamp.algorithm && stamp.effort >= $0.effort }
    }

    /// Mints a stamp for every recipient of `message` that is an SMTorP
    /// address (and carries no usable stamp), at the first of `offers` it can
    /// solve, dated `now`; calls `done` on the loop thread with the message
    /// carrying its stamps. A recipient whose stamp could not be made goes
    /// without one (the server then answers 450 and the queue retries);
    /// `onFailure` hears why.
    public func stamp(_ message: ClientMessage, offers: [PowRequirement], now: Int64,
                      onFailure: @escaping (Mailbox, String) -> Void = { _, _ in },
                      done: @escaping (ClientMessage) -> Void) {
        var result = message
        result.stamps = message.recipients.map { _ in nil }
        var queued: [(Int, StampRequest)] = []
        for (r, mailbox) in message.recipients.enumerated() {
            // A stamp carried from the sender's device (docs/spec.md §5.4)
            // is used when this server accepts its algorithm at its effort;
            // else this node mints one.
            if r < message.stamps.count, let carried = message.stamps[r], Self.satisfies(carried, offers) {
                result.stamps[r] = carried
                continue
            }
            let parsed: SMTorPAddress?
            do throws(AddressError) { parsed = try Address.parseSMTorP(mailbox.text) } catch { parsed = nil }
            guard let recipient = parsed, let offer = StampRequest.choose(from: offers, for: recipient) else {
                continue
            }
            var nonce = [UInt8](repeating: 0, count: Stamp.nonceLength)
            guard smtorp_random_bytes(&nonce, nonce.count) == SMTORP_OK else {
                onFailure(mailbox, "no random bytes for a stamp nonce")
                continue
            }
            queued.append((r, StampRequest(recipient: recipient, requirement: offer,
                                           date: StampDate(unixSeconds: now), nonce: nonce)))
        }
        guard !queued.isEmpty else {
            done(result)
            return
        }
        var outstanding = queued.count
        for (r, request) in queued {
            mint(request) { outcome in
                switch outcome {
                case .stamp(let text): result.stamps[r] = text
                case .failed(let why): onFailure(message.recipients[r], why)
                }
                outstanding -= 1
                if outstanding == 0 { done(result) }
            }
        }
    }
}
