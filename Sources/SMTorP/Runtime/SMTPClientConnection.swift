// SMTPClientConnection.swift: one outbound SMTP connection to an onion
// service, through Tor's SOCKS port, with TLS from the first byte. The thin
// adapter between the C core's SOCKS+TLS connection and the pure
// ClientSession: it frames nothing and decides nothing about SMTP.
//
// What it does decide is trust: once TLS is up, and BEFORE the session sees
// the connection (so not one SMTP byte is sent), the server's certificate
// is checked against the fingerprint label of the destination address. A
// mismatch closes the connection and delivers nothing.
//
// The SOCKS request names only `<onion>.onion`, never the fingerprint label:
// the label is SMTorP's, not Tor's (Tor ignores extra labels, RFC 7686), so
// the request stays canonical, the label never reaches tor's logs, and every
// address form of one destination shares one isolation key. The SOCKS user
// name is the destination onion (Tor's IsolateSOCKSAuth, on by default), so
// deliveries to unrelated destinations never share a circuit.
//
// Untrusted input: everything the server sends (through the C core to the
// session) and its certificate.
import SMTorPCore

/// Why a connection delivered nothing.
public enum ConnectionFailure: Error, Equatable, Sendable {
    /// Tor refused or failed the stream (with Tor's reason).
    case socks(SOCKSError)
    /// The server's certificate does not match the address's label.
    case certificateMismatch(expectedLabel: String, presented: String)
    /// The address has no label and the certificate differs from the one
    /// pinned at the first delivery: possibly a man in the middle.
    case pinMismatch(pinned: String, presented: String)
    /// The SOCKS port could not be reached.
    case proxyUnreachable(String)
    /// TLS could not be set up.
    case tls
    /// No answer in time.
    case timeout

    /// Whether trying again later can help.
    public var isTemporary: Bool {
        switch self {
        case .socks(let e): return e.isTemporary
        case .certificateMismatch: return false
        case .pinMismatch: return true  // defer: never deliver, let the user look
        case .proxyUnreachable, .tls, .timeout: return true
        }
    }

    /// A sentence for the user.
    public var message: String {
        switch self {
        case .socks(let e): return "tor could not reach the destination: " + e.summary
        case .certificateMismatch(let expected, let presented):
            return "the server's TLS certificate did not match the address: the address expects a fingerprint starting "
                + expected + ", the server presented " + presented + " (a wrong address, or a man in the middle); nothing was sent"
        case .pinMismatch(let pinned, let presented):
            return "POSSIBLE MAN IN THE MIDDLE: the server's TLS certificate changed since the first delivery (pinned "
                + pinned + ", now " + presented + "); nothing was sent and the mail is deferred. If the recipient really "
                + "changed keys, use their full address with the new fingerprint label"
        case .proxyUnreachable(let p): return "tor's SOCKS port " + p + " is not reachable (is tor running?)"
        case .tls: return "the TLS handshake with the server failed"
        case .timeout: return "no answer in time"
        }
    }
}

/// What one connection achieved.
public struct ConnectionOutcome: Sendable {
    /// The reports of the messages the session handled.
    public var reports: [DeliveryReport]
    /// Set when the connection failed before SMTP could start.
    public var failure: ConnectionFailure?
    /// The server's certificate fingerprint, when TLS got that far.
    public var serverFingerprint: [UInt8]?
    /// Negotiated TLS version and cipher, for the log.
    public var tlsVersion: String
    public var tlsCipher: String
}

/// Prepares one message for a server once its extensions are known (mints
/// its proof-of-work stamps for its `POW` offers) and hands it back, on the
/// loop thread, at once or later.
public typealias MessagePreparation = (ClientExtensions, ClientMessage, @escaping (ClientMessage) -> Void) -> Void

/// Delivers messages to one onion over one connection.
public final class SMTPClientConnection {
    let loop: EventLoop
    let tls: TLSContext
    let socks: ListenAddress
    let destination: SMTorPAddress
    let logger: Logger
    let trust: TrustStore
    var session: ClientSession
    var raw: OpaquePointer?
    var outcome = ConnectionOutcome(reports: [], failure: nil, serverFingerprint: nil, tlsVersion: "", tlsCipher: "")
    var completion: ((ConnectionOutcome) -> Void)?
    /// Called as soon as each message's outcome is known (before the
    /// connection ends), so that the queue can record it at once.
    public var onReport: ((DeliveryReport, [UInt8]?) -> Void)?
    var ready = false
    var messageCount: Int
    /// Messages held until the server's extensions are known (with a
    /// preparation), and the preparation.
    var heldMessages: [ClientMessage] = []
    let preparation: MessagePreparation?

    /// Time allowed for SOCKS (circuit building, descriptor fetch,
    /// rendezvous) and the TLS handshake: onion connections are slow.
    public static let connectTimeoutMilliseconds: UInt64 = 120_000

    /// A connection that sends `messages`. With `preparation` they are held
    /// until the server's EHLO reply is in, then prepared for it one by one
    /// (stamps minted for its offers), and each is sent as soon as it and
    /// those before it are ready: no round trip is added, and the next
    /// message's stamps are solved while the previous one travels.
    public init(loop: EventLoop, tls: TLSContext, socks: ListenAddress, destination: SMTorPAddress,
                heloName: String, messages: [ClientMessage], trust: TrustStore, logger: Logger,
                preparation: MessagePreparation? = nil) {
        self.trust = trust
        self.loop = loop
        self.tls = tls
        self.socks = socks
        self.destination = destination
        self.logger = logger
        self.messageCount = messages.count
        self.preparation = preparation
        // SMTorP servers take EHLO in the client's first flight (spec §4.8).
        let configuration = ClientConfiguration(heloName: heloName, earlyHello: true)
        if preparation != nil {
            heldMessages = messages
            session = ClientSession(configuration: configuration)
        } else {
            var session = ClientSession(configuration: configuration, messages: messages)
            _ = session.receive(.finish)  // nothing is sent before .ready
            self.session = session
        }
    }

    /// Connects; `completion` runs once, on the loop.
    public func start(_ completion: @escaping (ConnectionOutcome) -> Void) {
        self.completion = completion
        var conn: OpaquePointer? = nil
        let onion = destination.onion.hostname
        let result = smtorp_conn_connect_socks(loop.raw, socks.host, socks.port, destination.onion.label, "smtorp",
                                               onion, 25, tls.raw, nil, Self.callbacks,
                                               Unmanaged.passUnretained(self).toOpaque(), &conn)
        guard result == SMTORP_OK, let conn else {
            fail(.proxyUnreachable(socks.text))
            return
        }
        raw = conn
        smtorp_conn_set_read_timeout(conn, Self.connectTimeoutMilliseconds)
        logger.info("connecting to " + onion + " port 25 through tor's SOCKS port " + socks.text)
    }

    /// Shared C callbacks; written once, then only read on the loop thread.
    nonisolated(unsafe) static let callbacks: UnsafeMutablePointer<smtorp_conn_callbacks> = {
        let p = UnsafeMutablePointer<smtorp_conn_callbacks>.allocate(capacity: 1)
        p.initialize(to: smtorp_conn_callbacks(
            on_event: { _, event, arg in
                guard let arg else { return }
                SMTPClientConnection.from(arg).handle(event)
            },
            on_line: { _, line, length, arg in
                guard let arg else { return }
                let bytes = line.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
                let c = SMTPClientConnection.from(arg)
                c.apply(c.session.receive(.line(bytes)))
            },
            on_line_too_long: { _, arg in
                guard let arg else { return }
                let c = SMTPClientConnection.from(arg)
                c.apply(c.session.receive(.lineTooLong))
            },
            on_chunk: { _, _, _, _, _ in }))
        return p
    }()

    static func from(_ arg: UnsafeMutableRawPointer) -> SMTPClientConnection {
        Unmanaged<SMTPClientConnection>.fromOpaque(arg).takeUnretainedValue()
    }

    func handle(_ event: smtorp_conn_event) {
        guard let raw else { return }
        switch event {
        case SMTORP_CONN_READY:
            ready = true
            var version = [CChar](repeating: 0, count: 32)
            var cipher = [CChar](repeating: 0, count: 64)
            if smtorp_conn_tls_info(raw, &version, version.count, &cipher, cipher.count) == SMTORP_OK {
                outcome.tlsVersion = string(fromCBuffer: version)
                outcome.tlsCipher = string(fromCBuffer: cipher)
            }
            var fingerprint = [UInt8](repeating: 0, count: 32)
            guard smtorp_conn_peer_spki_sha256(raw, &fingerprint) == SMTORP_OK else {
                fail(.tls)
                return
            }
            outcome.serverFingerprint = fingerprint
            let presented = Base32.encode(fingerprint)
            let tlsFacts = "TLS " + outcome.tlsVersion + " " + outcome.tlsCipher + "; "
            switch trust.verdict(for: destination, fingerprint: fingerprint) {
            case .matchesLabel:
                logger.info(tlsFacts + "certificate matches the address's fingerprint label ("
                            + String(destination.fingerprintLabel?.utf8.count ?? 0) + " characters)")
            case .matchesPin:
                logger.info(tlsFacts + "certificate matches the fingerprint pinned at the first delivery")
            case .firstUse:
                logger.info(tlsFacts + "no fingerprint label and no pin: trusting " + presented + " on first use")
            case .labelMismatch:
                logger.error("certificate did not match for " + destination.onion.hostname
                             + ": expected " + (destination.fingerprintLabel ?? "") + ", got " + presented)
                fail(.certificateMismatch(expectedLabel: destination.fingerprintLabel ?? "", presented: presented))
                return
            case .pinMismatch(let pinned):
                logger.error("POSSIBLE MAN IN THE MIDDLE at " + destination.onion.hostname + ": pinned " + pinned
                             + ", presented " + presented + "; deferring")
                fail(.pinMismatch(pinned: pinned, presented: presented))
                return
            }
            smtorp_conn_set_read_timeout(raw, 0)  // the session sets its own from now on
            apply(session.receive(.ready))
        case SMTORP_CONN_SOCKS_ERROR:
            fail(.socks(SOCKSError(code: Int32(smtorp_conn_socks_error(raw)))))
        case SMTORP_CONN_TLS_ERROR where !ready:
            fail(.tls)
        case SMTORP_CONN_TIMEOUT where !ready:
            fail(.timeout)
        case SMTORP_CONN_ERROR where !ready:
            fail(.proxyUnreachable(socks.text))
        case SMTORP_CONN_TIMEOUT:
            apply(session.receive(.timeout))
        default:
            apply(session.receive(.closed))
            finish()
        }
    }

    func apply(_ effects: [ClientEffect]) {
        var announced: ClientExtensions?
        for effect in effects {
            switch effect {
            case .send(let bytes):
                guard let raw else { continue }
                if smtorp_conn_write(raw, bytes, bytes.count) != SMTORP_OK {
                    apply(session.receive(.closed))
                }
            case .setReadTimeout(let ms):
                if let raw { smtorp_conn_set_read_timeout(raw, ms) }
            case .finished(let report):
                outcome.reports.append(report)
                onReport?(report, outcome.serverFingerprint)
            case .extensionsAnnounced(let extensions):
                announced = extensions
            case .close:
                finish()
            }
        }
        // After every effect of this input: the session now waits for
        // messages (or has ended).
        if let announced, let preparation, raw != nil {
            let messages = heldMessages
            heldMessages = []
            guard !messages.isEmpty else {
                apply(session.receive(.finish))
                return
            }
            // Messages go to the session in their order, each once it and
            // every one before it are prepared; the last one finishes.
            var prepared: [ClientMessage?] = messages.map { _ in nil }
            var handedOver = 0
            for (index, message) in messages.enumerated() {
                // Strong: the preparation may outlive the owner's reference
                // (a long solve, a server that hung up meanwhile).
                preparation(announced, message) { [self] ready in
                    // The connection may have ended meanwhile: then nothing
                    // is reported for this message (the queue retries it).
                    guard self.raw != nil else { return }
                    prepared[index] = ready
                    while handedOver < prepared.count, let next = prepared[handedOver] {
                        handedOver += 1
                        self.apply(self.session.receive(.enqueue(next, isLast: handedOver == prepared.count)))
                    }
                }
            }
        }
    }

    func fail(_ failure: ConnectionFailure) {
        outcome.failure = failure
        finish()
    }

    func finish() {
        if let raw {
            self.raw = nil
            smtorp_conn_close(raw)
        }
        if let completion {
            self.completion = nil
            completion(outcome)
        }
    }
}
