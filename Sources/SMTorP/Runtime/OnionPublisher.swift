// OnionPublisher.swift: makes the node reachable as its onion service.
//
// With a managed tor it starts tor, waits for the control port, and restarts
// tor (with backoff) if it dies; with an existing tor (tor_control) it
// connects to it and reconnects if the connection drops. Either way it then
//   authenticates (SAFECOOKIE preferred), follows bootstrap progress,
//   turns on HS_DESC events, adds the onion service with the node's
//   persistent key (never NEW:), checks that tor's ServiceID is the node's
//   own onion name, and waits until every descriptor upload is acknowledged
//   before it reports the node reachable.
// The service is tied to this control connection (no Detach flag), so tor
// removes it when smtorp goes away, crash or not; shutdown also sends
// DEL_ONION.
//
// Untrusted input: nothing beyond what TorController already parses.
import SMTorPCore

/// Publishes the node's onion service through tor.
///
/// Closures capture it `unowned(unsafe)` (Embedded Swift has no weak or
/// safe unowned references): it owns every timer and controller that could
/// call back, and lives as long as `smtorp serve`, so none outlives it.
public final class OnionPublisher {
    let loop: EventLoop
    let configuration: Configuration
    let identity: NodeIdentity
    let targetPort: UInt16
    let logger: Logger
    var managedTor: ManagedTor?
    var controller: TorController?
    var pollTimer: LoopTimer?
    var retryTimer: LoopTimer?
    var deadlineTimer: LoopTimer?
    var pollDeadline: UInt64 = 0
    var lastProgress = -1
    var retryDelayMilliseconds: UInt64 = 1000
    var shuttingDown = false
    var started: UInt64 = 0

    /// Called once the descriptor is uploaded (each time, after a restart).
    public var onReachable: ((ControlUploadTracker) -> Void)?
    /// The SOCKS address tor listens on, once known.
    public private(set) var socksAddress: ListenAddress?
    /// True while the service is published.
    public private(set) var isReachable = false

    /// Most time to wait for tor's control port file after starting tor.
    public static let controlPortWaitMilliseconds: UInt64 = 30_000
    /// Longest wait between restarts.
    public static let maximumRetryMilliseconds: UInt64 = 60_000

    public init(loop: EventLoop, configuration: Configuration, identity: NodeIdentity,
                targetPort: UInt16, logger: Logger) {
        self.loop = loop
        self.configuration = configuration
        self.identity = identity
        self.targetPort = targetPort
        self.logger = logger
    }

    /// The pid of the managed tor, or 0.
    public var managedTorPID: Int32 { managedTor?.pid ?? 0 }

    /// Starts publishing.
    public func start() throws(CoreError) {
        pollTimer = try LoopTimer(loop: loop) { [unowned(unsafe) self] in self.poll() }
        retryTimer = try LoopTimer(loop: loop) { [unowned(unsafe) self] in self.restart() }
        deadlineTimer = try LoopTimer(loop: loop) { [unowned(unsafe) self] in
            if !self.isReachable && !self.shuttingDown {
                self.logger.error("the onion service is not published after "
                                  + String(self.configuration.torTimeoutSeconds)
                                  + " s (tor_timeout); still trying: see tor's log")
            }
        }
        deadlineTimer?.start(milliseconds: UInt64(configuration.torTimeoutSeconds) * 1000)
        started = smtorp_clock_monotonic_ms()
        try begin()
    }

    func begin() throws(CoreError) {
        isReachable = false
        lastProgress = -1
        if let control = configuration.torControl {
            logger.info("using the tor at control port " + control.text)
            connect(control)
        } else {
            let tor = managedTor ?? ManagedTor(loop: loop, binary: configuration.torBinary,
                                               dataDirectory: configuration.dataDirectory,
                                               include: configuration.torInclude, logger: logger)
            managedTor = tor
            try tor.start { [unowned(unsafe) self] status in self.torExited(status) }
            pollDeadline = smtorp_clock_monotonic_ms() + Self.controlPortWaitMilliseconds
            pollTimer?.start(milliseconds: 50)
        }
    }

    /// Polls for the managed tor's control port file (written by tor once
    /// it listens), or for bootstrap progress once connected.
    func poll() {
        guard !shuttingDown else { return }
        if controller == nil {
            if let port = managedTor?.controlPort() {
                connect(port)
            } else if smtorp_clock_monotonic_ms() > pollDeadline {
                logger.error("tor wrote no control port within "
                             + String(Self.controlPortWaitMilliseconds / 1000) + " s; see its log")
                scheduleRestart()
            } else {
                pollTimer?.start(milliseconds: 50)
            }
            return
        }
        controller?.bootstrapPhase { [unowned(unsafe) self] result in
            switch result {
            case .success(let phase):
                if phase.progress != self.lastProgress {
                    self.lastProgress = phase.progress
                    self.logger.info("tor bootstrap " + String(phase.progress) + "%: " + phase.summary)
                }
                if !phase.isDone { self.pollTimer?.start(milliseconds: 500) } else { self.publish() }
            case .failure(let error):
                self.logger.warning("tor bootstrap status: " + error.message)
            }
        }
    }

    func connect(_ address: ListenAddress) {
        let c = TorController(loop: loop, host: address.host, port: address.port,
                              configuration: ControlConfiguration(), logger: logger)
        controller = c
        c.onEvent = { [unowned(unsafe) self] event in
            guard case .hsDescriptor(let d) = event, d.address == self.identity.onion.label else { return }
            switch d.action {
            case .uploaded: self.logger.info("HS_DESC UPLOADED to " + (d.hsDirectory ?? "an HSDir"))
            case .failed: self.logger.info("HS_DESC upload FAILED at " + (d.hsDirectory ?? "an HSDir")
                                           + (d.reason.map { " (" + $0 + ")" } ?? ""))
            default: break
            }
        }
        c.onFailure = { [unowned(unsafe) self] error in
            self.logger.warning("tor control connection lost: " + error.message)
            self.controller = nil
            self.isReachable = false
            if self.managedTor == nil { self.scheduleRestart() }  // a managed tor's exit restarts it
        }
        c.authenticate { [unowned(unsafe) self] result in
            switch result {
            case .success(let auth):
                self.logger.info("authenticated to tor " + address.text + " (" + auth.method.name + ")")
                c.version { v in
                    if case .success(let version) = v { self.logger.info("tor version " + version) }
                }
                self.pollTimer?.start(milliseconds: 0)
            case .failure(let error):
                self.logger.error("tor control authentication failed: " + error.message)
                c.close()
                self.controller = nil
                self.scheduleRestart()
            }
        }
    }

    func publish() {
        guard let c = controller else { return }
        let serviceID = identity.onion.label
        c.socksListeners { [unowned(unsafe) self] result in
            if case .success(let listeners) = result,
               let first = listeners.first.flatMap({ ListenAddress(parsing: $0) }) {
                self.socksAddress = first
                self.logger.info("tor SOCKS port " + first.text)
            }
        }
        c.setEvents(["HS_DESC"]) { [unowned(unsafe) self] result in
            if case .failure(let error) = result {
                self.logger.error("SETEVENTS HS_DESC failed: " + error.message)
            }
        }
        c.waitForUpload(serviceID: serviceID) { [unowned(unsafe) self] result in
            switch result {
            case .success(let tracker):
                self.isReachable = true
                self.retryDelayMilliseconds = 1000
                let seconds = Double(smtorp_clock_monotonic_ms() - self.started) / 1000
                self.logger.info("onion service published (" + String(tracker.uploaded)
                                 + " HSDir uploads acknowledged, " + String(Int(seconds)) + " s after start)")
                self.logger.info("reachable as " + self.identity.fullDomain)
                self.onReachable?(tracker)
            case .failure(let error):
                self.logger.warning("waiting for the descriptor upload ended: " + error.message)
            }
        }
        let keyBlob: String
        do throws(CoreError) {
            keyBlob = try identity.torPrivateKeyBlob()
        } catch {
            logger.error("cannot read the onion key: " + error.message)
            return
        }
        c.addOnion(keyBlob: keyBlob, virtualPort: configuration.onionPort,
                   target: "127.0.0.1:" + String(targetPort), flags: ["DiscardPK"]) { [unowned(unsafe) self] result in
            switch result {
            case .success(let service):
                if service.serviceID != serviceID {
                    self.logger.error("tor reports onion " + service.serviceID + " but the node's key gives "
                                      + serviceID + "; refusing to go on")
                    c.close()
                    return
                }
                self.logger.info("onion service added: " + service.serviceID + ".onion port "
                                 + String(self.configuration.onionPort) + " -> 127.0.0.1:" + String(self.targetPort))
            case .failure(let error):
                self.logger.error("ADD_ONION failed: " + error.message)
            }
        }
    }

    func torExited(_ status: Int32) {
        guard !shuttingDown else { return }
        logger.warning("tor exited (wait status " + String(status) + ")")
        controller?.close()
        controller = nil
        isReachable = false
        scheduleRestart()
    }

    func scheduleRestart() {
        guard !shuttingDown else { return }
        logger.info("restarting tor in " + String(retryDelayMilliseconds / 1000) + " s")
        retryTimer?.start(milliseconds: retryDelayMilliseconds)
        retryDelayMilliseconds = min(retryDelayMilliseconds * 2, Self.maximumRetryMilliseconds)
    }

    func restart() {
        guard !shuttingDown else { return }
        managedTor?.stop()
        do throws(CoreError) {
            try begin()
        } catch {
            logger.error("cannot start tor: " + error.message)
            scheduleRestart()
        }
    }

    /// Removes the onion service and stops a managed tor.
    public func shutdown() {
        shuttingDown = true
        pollTimer?.stop()
        retryTimer?.stop()
        deadlineTimer?.stop()
        if let c = controller {
            c.delOnion(serviceID: identity.onion.label) { _ in }
            c.close()
        }
        controller = nil
        managedTor?.stop()
        managedTor = nil
    }
}
