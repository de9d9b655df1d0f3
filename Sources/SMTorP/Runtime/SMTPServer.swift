// SMTPServer.swift: the thin adapter between the C core's connections and
// the pure ServerSession state machine. It frames nothing itself and decides
// nothing: it feeds the session what the core delivers (ready, lines, chunks,
// timeouts) and carries out the effects the session returns (write, change
// framing, set the timeout, store, close; on the submission listener also
// start TLS and check a password).
//
// Two listeners use it: the onion listener (implicit TLS, NodePolicy, local
// Maildirs) and the mail submission listener (RFC 6409: cleartext with
// STARTTLS, AUTH PLAIN against the password file, SubmissionPolicy, the
// header cleaned by SubmissionCleaner before the message is stored). Where a
// message goes is the store function's business.
//
// Password checks (Argon2id, 64 MiB, tens of milliseconds each) run on a
// worker thread of the C core, one at a time per listener; the session
// holds the connection's input until the verdict comes back.
//
// Untrusted input: every byte from accepted connections, passed through
// unexamined to the session; user names and passwords from AUTH, checked
// against the password file and never logged (user names only sanitized).
import SMTorPCore

/// Settings of one SMTP listener.
public struct SMTPServerSettings: Sendable {
    public var listen: ListenAddress
    public var session: ServerConfiguration
    /// Concurrent connections; beyond it new connections are closed at once
    /// (a small board must not run out of memory under a connection flood).
    public var maxConnections: Int
    /// Time allowed for the TLS handshake and the first byte (also for the
    /// handshake after STARTTLS).
    public var handshakeTimeoutMilliseconds: UInt64
    /// Submission listener: keep User-Agent: and X-Mailer: in submitted
    /// messages (SubmissionCleaner removes them by default).
    public var keepsMailerFields = false

    public init(listen: ListenAddress, session: ServerConfiguration,
                maxConnections: Int = 100, handshakeTimeoutMilliseconds: UInt64 = 60_000) {
        self.listen = listen
        self.session = session
        self.maxConnections = maxConnections
        self.handshakeTimeoutMilliseconds = handshakeTimeoutMilliseconds
    }
}

/// Stores an accepted message durably (or says why not); the session's 250
/// waits for its answer.
public typealias SMTPStoreFunction = (Envelope, [UInt8]) -> StoreResult

/// The recipient policy of a listener: the onion listener's or the
/// submission listener's (one concrete type, so that the session is
/// specialised, not an existential).
enum ListenerPolicy: RecipientPolicy {
    case relay(NodePolicy)
    case submission(SubmissionPolicy)

    func decide(_ recipient: Mailbox) -> RecipientDecision {
        decide(recipient, accepted: [])
    }

    func decide(_ recipient: Mailbox, accepted: [Mailbox]) -> RecipientDecision {
        switch self {
        case .relay(let policy):
            return policy.decide(recipient, accepted: accepted)
        case .submission(let policy):
            return policy.decide(recipient, accepted: accepted)
        }
    }
}

/// An SMTP listener: the onion listener (implicit TLS, delivering into the
/// node's Maildirs) or the mail submission listener.
public final class SMTPServer {
    let loop: EventLoop
    let settings: SMTPServerSettings
    let policy: ListenerPolicy
    let store: SMTPStoreFunction
    /// The server context STARTTLS switches to (submission listener).
    let startTLSContext: TLSContext?
    /// The users who may submit (submission listener).
    let passwords: PasswordFile?
    /// Cleans submitted messages before they are stored (submission).
    let cleaner: SubmissionCleaner?
    /// Checks the stamps of RCPT commands (onion listener, when POW is
    /// required).
    let proofOfWork: ServerProofOfWork?
    let logger: Logger
    var listener: OpaquePointer? = nil
    var connections: [Int: ServerConnection] = [:]
    var nextConnectionID = 1
    /// Password checks waiting, and the one running (submission listener).
    var waitingPasswordChecks: [PendingPasswordCheck] = []
    var runningPasswordCheck: (check: OpaquePointer, pending: PendingPasswordCheck, userExists: Bool)?

    /// The port actually bound (useful with port 0).
    public private(set) var port: UInt16 = 0

    /// The onion listener: implicit TLS with `tls`, local recipients only
    /// (`policy`), messages stored into the Maildirs by `store`.
    public convenience init(loop: EventLoop, tls: TLSContext, settings: SMTPServerSettings,
                            policy: NodePolicy, proofOfWork: ServerProofOfWork? = nil, store: LocalDelivery,
                            logger: Logger) throws(CoreError) {
        try self.init(loop: loop, tls: tls, settings: settings, policy: policy, proofOfWork: proofOfWork,
                      logger: logger, store: { envelope, message in store.store(envelope, message: message) })
    }

    /// The onion listener with any store function; with `proofOfWork`
    /// every new recipient needs a stamp (docs/spec.md §5.5).
    public convenience init(loop: EventLoop, tls: TLSContext, settings: SMTPServerSettings,
                            policy: NodePolicy, proofOfWork: ServerProofOfWork? = nil, logger: Logger,
                            store: @escaping SMTPStoreFunction) throws(CoreError) {
        try self.init(loop: loop, implicitTLS: tls, startTLS: nil, settings: settings,
                      policy: .relay(policy), passwords: nil, cleaner: nil, proofOfWork: proofOfWork,
                      logger: logger, store: store)
    }

    /// The mail submission listener (RFC 6409): cleartext, with STARTTLS to
    /// `startTLS` when given; AUTH PLAIN checked against `passwords` and
    /// required before MAIL; AUTH in cleartext only when the listener is on
    /// loopback and `requireTLS` is false. Messages are cleaned
    /// (SubmissionCleaner for the node `settings.session.hostname`) and then
    /// handed to `store`. The session profile of `settings` is set here.
    public convenience init(loop: EventLoop, submission settings: SMTPServerSettings, startTLS: TLSContext?,
                            requireTLS: Bool, policy: SubmissionPolicy, passwords: PasswordFile,
                            logger: Logger, store: @escaping SMTPStoreFunction) throws(CoreError) {
        var settings = settings
        settings.session.profile = .submission(listeningOn: settings.listen.host,
                                               tlsAvailable: startTLS != nil, requireTLS: requireTLS)
        settings.session.tlsActive = false
        let cleaner = SubmissionCleaner(hostname: settings.session.hostname,
                                        keepsMailerFields: settings.keepsMailerFields)
        try self.init(loop: loop, implicitTLS: nil, startTLS: startTLS, settings: settings,
                      policy: .submission(policy), passwords: passwords, cleaner: cleaner, proofOfWork: nil,
                      logger: logger, store: store)
    }

    init(loop: EventLoop, implicitTLS tls: TLSContext?, startTLS: TLSContext?, settings: SMTPServerSettings,
         policy: ListenerPolicy, passwords: PasswordFile?, cleaner: SubmissionCleaner?,
         proofOfWork: ServerProofOfWork?, logger: Logger,
         store: @escaping SMTPStoreFunction) throws(CoreError) {
        self.loop = loop
        self.settings = settings
        self.policy = policy
        self.store = store
        self.startTLSContext = startTLS
        self.passwords = passwords
        self.cleaner = cleaner
        self.proofOfWork = proofOfWork
        self.logger = logger
        var raw: OpaquePointer? = nil
        let result = smtorp_listener_new(loop.raw, settings.listen.host, settings.listen.port, tls?.raw,
                                         { conn, arg in
                                             guard let conn, let arg else { return }
                                             Unmanaged<SMTPServer>.fromOpaque(arg).takeUnretainedValue()
                                                 .accept(conn)
                                         },
                                         Unmanaged.passUnretained(self).toOpaque(), &raw)
        try CoreError.check(result, context: "listening on " + settings.listen.text)
        listener = raw
        port = smtorp_listener_port(raw)
    }

    deinit { shutdown() }

    /// Stops accepting and closes every open connection. A transaction
    /// in progress was never acknowledged, so nothing accepted is lost.
    public func shutdown() {
        smtorp_listener_free(listener)
        listener = nil
        waitingPasswordChecks = []
        if let running = runningPasswordCheck {
            runningPasswordCheck = nil
            smtorp_password_check_free(running.check)  // waits for it, no callback
        }
        for (_, c) in connections { c.abort() }
        connections = [:]
    }

    /// Number of open connections.
    public var connectionCount: Int { connections.count }

    func accept(_ conn: OpaquePointer) {
        if connections.count >= settings.maxConnections {
            logger.warning("connection refused: " + String(settings.maxConnections)
                           + " connections already open")
            smtorp_conn_close(conn)
            return
        }
        let id = nextConnectionID
        nextConnectionID += 1
        var configuration = settings.session
        // The requirements at accept time; each check uses the time of its RCPT.
        configuration.proofOfWork = proofOfWork?.requirements()
        let connection = ServerConnection(id: id, raw: conn, server: self,
                                          session: ServerSession(configuration: configuration, policy: policy))
        if let proofOfWork { connection.argon2 = proofOfWork.newSessionCounter() }
        connections[id] = connection
        smtorp_conn_set_callbacks(conn, ServerConnection.callbacks,
                                  Unmanaged.passUnretained(connection).toOpaque())
        smtorp_conn_set_read_timeout(conn, settings.handshakeTimeoutMilliseconds)
        logger.debug("connection " + String(id) + " accepted")
    }

    func forget(_ id: Int) { connections[id] = nil }

    // MARK: Password checks (submission listener)

    /// A password check waiting for its turn.
    struct PendingPasswordCheck {
        let connection: ServerConnection
        let user: String
        let password: [UInt8]
    }

    /// Checks `password` of `user` for `connection` on a worker thread of
    /// the C core, one check at a time (each costs 64 MiB and tens of
    /// milliseconds: a flood of AUTH commands queues up instead of stalling
    /// the loop or exhausting memory); the verdict goes back to the
    /// connection on the loop thread.
    func checkPassword(user: String, password: [UInt8], for connection: ServerConnection) {
        waitingPasswordChecks.append(PendingPasswordCheck(connection: connection, user: user, password: password))
        startNextPasswordCheck()
    }

    private func startNextPasswordCheck() {
        guard runningPasswordCheck == nil, !waitingPasswordChecks.isEmpty else { return }
        let next = waitingPasswordChecks.removeFirst()
        guard next.connection.raw != nil else {  // gone while waiting
            startNextPasswordCheck()
            return
        }
        let (hash, userExists) = passwords?.hashToCheck(user: next.user) ?? (PasswordFile.absentUserHash, false)
        var check: OpaquePointer? = nil
        let result = smtorp_password_check_start(loop.raw, hash, next.password, next.password.count, { check, matches, arg in
            guard let arg else { return }
            Unmanaged<SMTPServer>.fromOpaque(arg).takeUnretainedValue().passwordCheckEnded(check, matches: matches != 0)
        }, Unmanaged.passUnretained(self).toOpaque(), &check)
        guard result == SMTORP_OK, let check else {
            logger.error("cannot start a password check: " + CoreError(result).message)
            next.connection.passwordChecked(user: next.user, isCorrect: false)
            startNextPasswordCheck()
            return
        }
        runningPasswordCheck = (check, next, userExists)
    }

    private func passwordCheckEnded(_ check: OpaquePointer?, matches: Bool) {
        guard let running = runningPasswordCheck else { return }
        runningPasswordCheck = nil
        smtorp_password_check_free(running.check)
        running.pending.connection.passwordChecked(user: running.pending.user,
                                                   isCorrect: matches && running.userExists)
        startNextPasswordCheck()
    }
}

/// One accepted connection: a session plus the C connection it drives.
final class ServerConnection {
    let id: Int
    var raw: OpaquePointer?
    // Strong: the server outlives its connections; the cycle ends when the
    // server forgets this connection (finish) or clears its table (shutdown).
    let server: SMTPServer
    var session: ServerSession<ListenerPolicy>
    var ready = false
    /// This session's allowance of Argon2id stamp verifications.
    var argon2 = Argon2VerificationCounter()

    init(id: Int, raw: OpaquePointer, server: SMTPServer, session: ServerSession<ListenerPolicy>) {
        self.id = id
        self.raw = raw
        self.server = server
        self.session = session
    }

    /// The C callbacks, shared by every server connection.
    /// Written once, read-only afterwards, used only on the loop thread.
    nonisolated(unsafe) static let callbacks: UnsafeMutablePointer<smtorp_conn_callbacks> = {
        let p = UnsafeMutablePointer<smtorp_conn_callbacks>.allocate(capacity: 1)
        p.initialize(to: smtorp_conn_callbacks(
            on_event: { _, event, arg in
                guard let arg else { return }
                ServerConnection.from(arg).handle(event)
            },
            on_line: { _, line, length, arg in
                guard let arg else { return }
                let bytes = line.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
                let c = ServerConnection.from(arg)
                c.feed(.line(bytes))
            },
            on_line_too_long: { _, arg in
                guard let arg else { return }
                ServerConnection.from(arg).feed(.lineTooLong)
            },
            on_chunk: { _, data, length, remaining, arg in
                guard let arg else { return }
                let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
                ServerConnection.from(arg).feed(.chunk(bytes, remaining: remaining))
            }))
        return p
    }()

    static func from(_ arg: UnsafeMutableRawPointer) -> ServerConnection {
        Unmanaged<ServerConnection>.fromOpaque(arg).takeUnretainedValue()
    }

    func handle(_ event: smtorp_conn_event) {
        switch event {
        case SMTORP_CONN_READY:
            ready = true
            if let raw {
                var version = [CChar](repeating: 0, count: 32)
                var cipher = [CChar](repeating: 0, count: 64)
                if smtorp_conn_tls_info(raw, &version, version.count, &cipher, cipher.count) == SMTORP_OK {
                    server.logger.debug("connection " + String(id) + ": " + string(fromCBuffer: version)
                                        + " " + string(fromCBuffer: cipher))
                }
            }
            feed(.ready)
        case SMTORP_CONN_TIMEOUT where ready:
            feed(.timeout)
        case SMTORP_CONN_TIMEOUT:
            server.logger.info("connection " + String(id) + ": no TLS handshake in time, closed")
            finish()
        case SMTORP_CONN_TLS_ERROR where ready:
            // After the handshake: the peer went away without a TLS close
            // (or sent a broken record). Nothing unacknowledged is kept.
            server.logger.debug("connection " + String(id) + " ended by the peer (TLS stream broken)")
            finish()
        case SMTORP_CONN_TLS_ERROR:
            server.logger.info("connection " + String(id)
                               + ": TLS handshake failed (a cleartext or too old client?), closed")
            finish()
        default:
            server.logger.debug("connection " + String(id) + " ended by the peer")
            finish()
        }
    }

    func feed(_ input: ServerInput) {
        guard raw != nil else { return }
        apply(session.receiveSubmission(input))
    }

    func apply(_ effects: [SubmissionEffect]) {
        for effect in effects {
            guard let raw else { return }
            switch effect {
            case .server(let serverEffect):
                apply(serverEffect, raw: raw)
            case .startTLS:
                // The 220 was written just before: the core flushes it,
                // drops input pipelined behind STARTTLS, and switches.
                ready = false
                guard let tls = server.startTLSContext else {
                    finish()
                    return
                }
                smtorp_conn_set_read_timeout(raw, server.settings.handshakeTimeoutMilliseconds)
                let result = smtorp_conn_start_tls(raw, tls.raw)
                if result != SMTORP_OK {
                    server.logger.warning("connection " + String(id) + ": STARTTLS failed: "
                                          + CoreError(result).message)
                    finish()
                    return
                }
            case .checkPassword(let user, let password):
                // On a worker thread; the session holds input meanwhile.
                server.checkPassword(user: user, password: password, for: self)
            }
        }
    }

    func apply(_ effect: ServerEffect, raw: OpaquePointer) {
        switch effect {
        case .send(let reply):
            let bytes = reply.wireBytes()
            if smtorp_conn_write(raw, bytes, bytes.count) != SMTORP_OK {
                finish()
            }
        case .expectLines(let maxLength):
            smtorp_conn_expect_lines(raw, maxLength)
        case .expectBytes(let count):
            smtorp_conn_expect_bytes(raw, count)
        case .setReadTimeout(let milliseconds):
            smtorp_conn_set_read_timeout(raw, milliseconds)
        case .store(let envelope, let message):
            apply(session.receiveSubmission(.stored(store(envelope, message))))
        case .checkStamp(let stamp, let recipient):
            // (A session asks only when the listener offers POW.)
            let refusal = server.proofOfWork.map {
                $0.check(stamp: stamp, recipient: recipient, argon2: &argon2, connection: id)
            } ?? Reply(450, EnhancedStatusCode(4, 7, 0), "POW cannot be checked here now")
            apply(session.receiveSubmission(.stampChecked(refusal)))
        case .close:
            finish()
        }
    }

    /// Stores a message through the server's store function, cleaning it
    /// first on the submission listener.
    func store(_ envelope: Envelope, _ message: [UInt8]) -> StoreResult {
        guard let cleaner = server.cleaner else {
            return server.store(envelope, message)
        }
        var random = [UInt8](repeating: 0, count: 16)
        guard smtorp_random_bytes(&random, random.count) == SMTORP_OK else {
            server.logger.error("no random bytes for a Message-ID")
            return .temporaryFailure("Cannot process the message now, try again later")
        }
        let cleaned = cleaner.clean(message, unixSeconds: smtorp_clock_unix_seconds(), randomBytes: random)
        return server.store(envelope, cleaned)
    }

    /// The end of this connection's password check.
    func passwordChecked(user: String, isCorrect: Bool) {
        guard raw != nil else { return }  // gone meanwhile
        // The user name comes from the network: sanitized; the password is
        // never logged.
        server.logger.info("connection " + String(id) + ": AUTH PLAIN as " + printable(user)
                           + (isCorrect ? " accepted" : " refused"))
        apply(session.receiveSubmission(.passwordChecked(isCorrect)))
    }

    /// `text` with control characters replaced, for a log line.
    func printable(_ text: String) -> String {
        String(decoding: text.utf8.map { $0 < 0x20 || $0 == 0x7F ? UInt8(ascii: "?") : $0 }, as: UTF8.self)
    }

    /// Closes after flushing, and forgets this connection.
    func finish() {
        guard let raw else { return }
        self.raw = nil
        smtorp_conn_close(raw)
        server.forget(id)
    }

    /// Closes at shutdown without telling the server (it clears its table).
    func abort() {
        guard let raw else { return }
        self.raw = nil
        smtorp_conn_close(raw)
    }
}

/// A TLS context of the C core (server or client).
public final class TLSContext {
    public let raw: OpaquePointer

    /// A server context with the node's certificate and key.
    public init(certificatePath: String, keyPath: String) throws(CoreError) {
        var ctx: OpaquePointer? = nil
        try CoreError.check(smtorp_tls_server_context_new(certificatePath, keyPath, &ctx),
                            context: "loading " + certificatePath)
        guard let ctx else { throw CoreError(SMTORP_ERR_TLS_CONTEXT) }
        raw = ctx
    }

    /// A client context (the caller pins the server's fingerprint).
    public init(client: Void) throws(CoreError) {
        var ctx: OpaquePointer? = nil
        try CoreError.check(smtorp_tls_client_context_new(&ctx))
        guard let ctx else { throw CoreError(SMTORP_ERR_TLS_CONTEXT) }
        raw = ctx
    }

    deinit { smtorp_tls_context_free(raw) }
}
