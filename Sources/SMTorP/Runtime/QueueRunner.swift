// QueueRunner.swift: delivers the outbound queue. Every tick it scans the
// queue (the same scan at start-up, so recovery after a crash is the normal
// path), produces due notifications, removes finished messages, asks the
// scheduler for jobs, and runs each job as one SMTPClientConnection (one
// connection, one circuit, several messages and recipients for one onion).
// Each outcome is recorded durably before the next decision.
//
// When to tick: the queue's msg/ and state/ directories are watched
// (inotify), so new mail (`smtorp sendmail`, the submission listener) and
// `smtorp queue --flush` are seen at once; otherwise the runner sleeps
// until the scheduler's next wake-up (a retry, a delay warning), at most
// `idleScanIntervalMilliseconds`. A small board with a large deferred
// queue no longer reads every state file every second. Without inotify it
// looks every second, as before.
//
// Proof of work: once the server's EHLO reply is in, a stamp is minted for
// each recipient on worker threads (StampMinter) for the first of its `POW`
// offers this node can solve (none when it offers no POW), then the
// messages go out. If a server asked for more in a 450 4.7.0 than its EHLO
// offered, what it asked is used for it from then on (and the scheduler
// retries such a recipient at once, once).
//
// Bounces: a DSN goes into the sender's local Maildir under a name fixed by
// the request (NotificationRequest.identifier), so a crash between storing
// it and recording that it was stored can never produce a second one: the
// second write finds the file there. Never a bounce for a bounce: the
// scheduler asks for none when the reverse path is null.
//
// Untrusted input: what the servers answer (through SMTPClientConnection)
// and the queue files (checked by QueueStore).
import SMTorPCore

/// Runs deliveries from the queue on the event loop.
public final class QueueRunner {
    let loop: EventLoop
    let store: QueueStore
    let scheduler: QueueScheduler
    let identity: NodeIdentity
    let maildir: Maildir
    /// Decides whether a sender is one of this node's mailboxes (DSNs go
    /// only to local senders).
    let localPolicy: NodePolicy
    let dataDirectory: String
    let logger: Logger
    let socksAddress: () -> ListenAddress?
    var tls: TLSContext?
    var timer: LoopTimer?
    var active: [String: SMTPClientConnection] = [:]
    var reportedCorrupt: [String] = []
    var waitingForTorLogged = false
    /// Solves the stamps of outbound mail.
    let minter: StampMinter
    /// What each destination (onion name) asked for in its last 450 reply
    /// that carried requirements.
    var proofOfWorkOffers: [String: [PowRequirement]] = [:]

    /// The shortest wait between two scans when something is due but could
    /// not start (tor not ready, every slot busy), and the interval without
    /// a directory watch.
    public static let scanIntervalMilliseconds: UInt64 = 1000
    /// The longest sleep with the directory watch (a safety net: a change
    /// the watch missed is seen within this).
    public static let idleScanIntervalMilliseconds: UInt64 = 60_000
    /// How long after a watched change the scan runs (changes in a burst,
    /// e.g. the runner's own state writes, share one scan).
    public static let changeDelayMilliseconds: UInt64 = 100
    /// The watches of queue/msg and queue/state (nil without inotify).
    var watches: [OpaquePointer] = []
    /// Whether a scan is already armed for a watched change.
    var changeScanArmed = false

    public init(loop: EventLoop, store: QueueStore, settings: QueueSettings, identity: NodeIdentity,
                maildir: Maildir, localMailboxes: [String], dataDirectory: String, logger: Logger,
                solverThreads: Int = 0, socksAddress: @escaping () -> ListenAddress?) {
        self.loop = loop
        self.minter = StampMinter(loop: loop, threads: solverThreads)
        self.store = store
        self.scheduler = QueueScheduler(settings: settings)
        self.identity = identity
        self.maildir = maildir
        self.localPolicy = NodePolicy(onionHostname: identity.onion.hostname, fingerprintLabel: identity.fingerprintLabel,
                                      aliases: [], mailboxes: localMailboxes)
        self.dataDirectory = dataDirectory
        self.logger = logger
        self.socksAddress = socksAddress
        minter.onProgress = { [logger] request, attempts, milliseconds in
            logger.info("queue: solving proof of work for " + request.recipient.text + " ("
                        + request.requirement.algorithm.identifier + " effort " + String(request.requirement.effort)
                        + "): " + String(attempts) + " attempts, " + String(milliseconds / 1000) + " s")
        }
    }

    /// Starts the periodic scan (the first one at once).
    public func start() throws(CoreError) {
        tls = try TLSContext(client: ())
        timer = try LoopTimer(loop: loop) { [unowned(unsafe) self] in self.tick() }
        for directory in [store.messageDirectory, store.stateDirectory] {
            var watch: OpaquePointer? = nil
            let result = smtorp_dir_watch_new(loop.raw, directory, { arg in
                guard let arg else { return }
                Unmanaged<QueueRunner>.fromOpaque(arg).takeUnretainedValue().queueChanged()
            }, Unmanaged.passUnretained(self).toOpaque(), &watch)
            if result == SMTORP_OK, let watch {
                watches.append(watch)
            } else {
                logger.warning("queue: cannot watch " + directory + " (" + CoreError(result).message
                               + "); looking at the queue every second instead")
                for w in watches { smtorp_dir_watch_free(w) }
                watches = []
                break
            }
        }
        timer?.start(milliseconds: 0)
    }

    deinit {
        for w in watches { smtorp_dir_watch_free(w) }
    }

    /// A queue directory changed: scan soon (once for a burst).
    func queueChanged() {
        guard !changeScanArmed else { return }
        changeScanArmed = true
        timer?.start(milliseconds: Self.changeDelayMilliseconds)
    }

    /// Arms the next scan: at the scheduler's next wake-up `wake` (Unix
    /// seconds; nil when nothing waits for a time), no sooner than a second
    /// from now and, with the watch, no later than the idle interval.
    func scheduleNextScan(wake: Int64?, now: Int64) {
        guard !watches.isEmpty else {
            timer?.start(milliseconds: Self.scanIntervalMilliseconds)
            return
        }
        var delay = Self.idleScanIntervalMilliseconds
        if let wake {
            let seconds = UInt64(max(wake - now, 0))
            delay = min(delay, max(seconds * 1000, Self.scanIntervalMilliseconds))
        }
        timer?.start(milliseconds: delay)
    }

    /// Number of connections in progress.
    public var activeConnections: Int { active.count }

    /// Stops starting new deliveries (connections in progress are closed by
    /// the process exit; their mail stays queued and is retried).
    public func stop() {
        for w in watches { smtorp_dir_watch_free(w) }
        watches = []
        timer?.stop()
        minter.cancelAll()
    }

    static func random() -> Double {
        var b = [UInt8](repeating: 0, count: 4)
        _ = smtorp_random_bytes(&b, 4)
        let v = UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
        return Double(v) / 4_294_967_296.0
    }

    func tick() {
        changeScanArmed = false
        let now = smtorp_clock_unix_seconds()
        var wake: Int64? = nil
        defer { scheduleNextScan(wake: wake, now: now) }
        let scan = store.scan(now: now)
        for c in scan.corrupt where !reportedCorrupt.contains(c.name) {
            reportedCorrupt.append(c.name)
            logger.error("queue file " + c.name + " is incomplete or damaged (" + c.reason
                         + "); moved to queue/corrupt and never delivered")
        }
        for failure in scan.failures { logger.error("queue: " + failure.message) }
        logger.debug("queue: scanned " + String(scan.entries.count) + " message(s)")
        var entries: [QueueEntry] = []
        for var entry in scan.entries {
            produceNotifications(&entry, now: now)
            if entry.isFinished {
                do throws(QueueError) {
                    try store.remove(entry.id)
                    logger.info("queue: " + entry.id.text + " done, removed")
                } catch {
                    logger.error("queue: cannot remove " + entry.id.text + ": " + error.message)
                }
            } else {
                entries.append(entry)
            }
        }
        guard !entries.isEmpty else { return }
        guard let socks = socksAddress() else {
            if !waitingForTorLogged {
                logger.info("queue: " + String(entries.count) + " message(s) wait for tor to be ready")
                waitingForTorLogged = true
            }
            wake = now  // look again in a second
            return
        }
        waitingForTorLogged = false
        for job in scheduler.plan(entries: entries, now: now, busyDestinations: Array(active.keys)) {
            run(job, socks: socks)
        }
        // The end of a job rescans (below, in run); what waits for a time
        // wakes the runner then.
        wake = scheduler.nextWakeup(entries: entries, now: now, busyDestinations: Array(active.keys))
    }

    func run(_ job: DeliveryJob, socks: ListenAddress) {
        guard let tls else { return }
        let onionLabel = Array(job.destination.utf8.prefix(56))
        let destination: SMTorPAddress
        do throws(AddressError) {
            let onion = try OnionAddress(validating: onionLabel)
            destination = SMTorPAddress(localPart: "postmaster", onion: onion, fingerprintLabel: job.fingerprintLabel)
        } catch {
            logger.error("queue: bad destination " + job.destination + ": " + error.message)
            return
        }
        var messages: [ClientMessage] = []
        for m in job.messages {
            do throws(QueueError) {
                messages.append(m.clientMessage(content: try store.message(m.id)))
            } catch {
                logger.error("queue: " + m.id.text + ": " + error.message)
            }
        }
        guard !messages.isEmpty else { return }
        let trust = TrustStore(directory: dataDirectory)
        let connection = SMTPClientConnection(loop: loop, tls: tls, socks: socks, destination: destination,
                                              heloName: identity.onion.hostname, messages: messages,
                                              trust: trust, logger: logger,
                                              preparation: stampPreparation(for: destination.onion.hostname))
        active[job.destination] = connection
        logger.info("queue: delivering " + String(messages.count) + " message(s) to " + job.destination)
        var recorded: [String] = []
        // Record each message as soon as its final reply is in: a crash
        // later in the connection then redelivers nothing already accepted
        // (at most the one whose reply was being recorded).
        connection.onReport = { [unowned(unsafe) self] report, fingerprint in
            guard let m = job.messages.first(where: { $0.id.text == report.identifier }) else { return }
            let single = DeliveryJob(destination: job.destination, fingerprintLabel: job.fingerprintLabel, messages: [m])
            let partial = ConnectionOutcome(reports: [report], failure: nil, serverFingerprint: fingerprint,
                                            tlsVersion: "", tlsCipher: "")
            self.record(single.results(from: partial), outcome: partial, destination: destination)
            recorded.append(report.identifier)
        }
        connection.start { [unowned(unsafe) self] outcome in
            self.active[job.destination] = nil
            if let failure = outcome.failure {
                self.logger.warning("queue: " + job.destination + ": " + failure.message)
            }
            let rest = job.results(from: outcome).filter { !recorded.contains($0.id.text) }
            self.record(rest, outcome: outcome, destination: destination)
            self.timer?.start(milliseconds: 0)  // look again now: more may be due for this onion
        }
    }

    /// Mints the stamps of a job's message for the server's offers (or for
    /// what it asked in a 450 before).
    func stampPreparation(for onion: String) -> MessagePreparation {
        { [unowned(unsafe) self] extensions, message, done in
            guard let offered = extensions.proofOfWork else {
                done(message)  // no POW offered: no stamps
                return
            }
            let offers = PowRequirement.raising(offered, to: self.proofOfWorkOffers[onion] ?? [])
            self.minter.stamp(message, offers: offers, now: smtorp_clock_unix_seconds(),
                              onFailure: { [logger] mailbox, why in
                                  logger.warning("queue: no proof-of-work stamp for " + mailbox.text + ": " + why)
                              }, done: done)
        }
    }

    func record(_ results: [DeliveryJob.Result], outcome: ConnectionOutcome, destination: SMTorPAddress) {
        let now = smtorp_clock_unix_seconds()
        var delivered: [String] = []
        for result in results {
            do throws(QueueError) {
                var entry = try store.load(result.id)
                scheduler.record(result, in: &entry, now: now, random: Self.random())
                try store.update(result.id, states: entry.states)
                for (index, o) in result.outcomes {
                    if let asked = o.proofOfWorkRequirements {
                        proofOfWorkOffers[destination.onion.hostname] = asked
                    }
                    if case .delivered = o {
                        delivered.append(entry.recipients[index].localPart)
                        logger.info("queue: " + result.id.text + " delivered to " + entry.recipients[index].text)
                    } else {
                        let s = entry.states[index]
                        logger.info("queue: " + result.id.text + " " + s.status.name + " for "
                                    + entry.recipients[index].text + ": " + s.reply)
                    }
                }
            } catch {
                logger.error("queue: recording the outcome for " + result.id.text + " failed: " + error.message)
            }
        }
        if !delivered.isEmpty, let fingerprint = outcome.serverFingerprint {
            var trust = TrustStore(directory: dataDirectory)
            trust.recordDelivery(to: destination, fingerprint: fingerprint, recipients: delivered, now: now)
            do throws(CoreError) { try trust.save() } catch {
                logger.warning("could not save pins and contacts: " + error.message)
            }
        }
    }

    /// Produces every due DSN (failure or delay warning) for `entry`.
    func produceNotifications(_ entry: inout QueueEntry, now: Int64) {
        for request in scheduler.notifications(for: entry, now: now) {
            let sender = request.sender
            let local = lowercasedASCII(sender.localPart)
            if localPolicy.decide(sender) == .accept {
                let original = (try? store.message(entry.id)) ?? []
                let dsn = DeliveryStatusNotification.render(request, entry: entry, originalMessage: original,
                                                            reportingHost: identity.onion.hostname, now: now)
                do throws(CoreError) {
                    let path = try maildir.deliver(mailbox: local, uniqueName: request.identifier + ".smtorp", parts: [dsn])
                    logger.info("queue: " + (request.kind == .failure ? "bounce" : "delay warning") + " for "
                                + entry.id.text + " stored in " + path)
                } catch {
                    if !error.isExists {  // already there: produced before a crash
                        logger.error("queue: cannot store the notification for " + entry.id.text + ": " + error.message)
                        continue
                    }
                }
            } else {
                logger.warning("queue: " + entry.id.text + ": the sender " + sender.text
                               + " is not a local mailbox; no notification is sent")
            }
            scheduler.markProduced(request, in: &entry)
            do throws(QueueError) { try store.update(entry.id, states: entry.states) } catch {
                logger.error("queue: " + entry.id.text + ": " + error.message)
            }
        }
    }
}
