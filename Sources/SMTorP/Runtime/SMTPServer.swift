// SMTPServer.swift: the thin adapter between the C core's connections and
// the pure ServerSession state machine. It frames nothing itself and decides
// nothing: it feeds the session what the core delivers (ready, lines, chunks,
// timeouts) and carries out the effects the session returns (write, change
// framing, set the timeout, store, close).
//
// Untrusted input: every byte from accepted connections, passed through
// unexamined to the session.
import SMTorPCore

/// Settings of one SMTP listener.
public struct SMTPServerSettings: Sendable {
    public var listen: ListenAddress
    public var session: ServerConfiguration
    /// Concurrent connections; beyond it new connections are closed at once
    /// (a small board must not run out of memory under a connection flood).
    public var maxConnections: Int
    /// Time allowed for the TLS handshake and the first byte.
    public var handshakeTimeoutMilliseconds: UInt64

    public init(listen: ListenAddress, session: ServerConfiguration,
                maxConnections: Int = 100, handshakeTimeoutMilliseconds: UInt64 = 60_000) {
        self.listen = listen
        self.session = session
        self.maxConnections = maxConnections
        self.handshakeTimeoutMilliseconds = handshakeTimeoutMilliseconds
    }
}

/// An implicit-TLS SMTP listener delivering into the node's Maildirs.
public final class SMTPServer {
    let loop: EventLoop
    let settings: SMTPServerSettings
    let policy: NodePolicy
    let store: LocalDelivery
    let logger: Logger
    var listener: OpaquePointer? = nil
    var connections: [Int: ServerConnection] = [:]
    var nextConnectionID = 1

    /// The port actually bound (useful with port 0).
    public private(set) var port: UInt16 = 0

    public init(loop: EventLoop, tls: TLSContext, settings: SMTPServerSettings,
                policy: NodePolicy, store: LocalDelivery, logger: Logger) throws(CoreError) {
        self.loop = loop
        self.settings = settings
        self.policy = policy
        self.store = store
        self.logger = logger
        var raw: OpaquePointer? = nil
        let result = smtorp_listener_new(loop.raw, settings.listen.host, settings.listen.port, tls.raw,
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
        let connection = ServerConnection(id: id, raw: conn, server: self,
                                          session: ServerSession(configuration: settings.session,
                                                                 policy: policy))
        connections[id] = connection
        smtorp_conn_set_callbacks(conn, ServerConnection.callbacks,
                                  Unmanaged.passUnretained(connection).toOpaque())
        smtorp_conn_set_read_timeout(conn, settings.handshakeTimeoutMilliseconds)
        logger.debug("connection " + String(id) + " accepted")
    }

    func forget(_ id: Int) { connections[id] = nil }
}

/// One accepted connection: a session plus the C connection it drives.
final class ServerConnection {
    let id: Int
    var raw: OpaquePointer?
    // Strong: the server outlives its connections; the cycle ends when the
    // server forgets this connection (finish) or clears its table (shutdown).
    let server: SMTPServer
    var session: ServerSession<NodePolicy>
    var ready = false

    init(id: Int, raw: OpaquePointer, server: SMTPServer, session: ServerSession<NodePolicy>) {
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
        apply(session.receive(input))
    }

    func apply(_ effects: [ServerEffect]) {
        for effect in effects {
            guard let raw else { return }
            switch effect {
            case .send(let reply):
                let bytes = reply.wireBytes()
                if smtorp_conn_write(raw, bytes, bytes.count) != SMTORP_OK {
                    finish()
                    return
                }
            case .expectLines(let maxLength):
                smtorp_conn_expect_lines(raw, maxLength)
            case .expectBytes(let count):
                smtorp_conn_expect_bytes(raw, count)
            case .setReadTimeout(let milliseconds):
                smtorp_conn_set_read_timeout(raw, milliseconds)
            case .store(let envelope, let message):
                let result = server.store.store(envelope, message: message)
                apply(session.receive(.stored(result)))
            case .close:
                finish()
            }
        }
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
