// QueueStore.swift: the durable outbound mail queue on disk.
//
//   <data>/queue/           0700
//     msg/<id>              the message: envelope and text, written once
//     state/<id>            per-recipient state, replaced atomically
//     tmp/                  files being written (never read as queue data)
//     corrupt/              damaged files, moved aside for the operator
//
// Durability, the reasoning (as Postfix's mail_stream.c gives it):
// - A message is accepted only when `enqueue` returns: its file was written
//   under tmp/, fsynced, linked into msg/ and msg/ fsynced (DurableFile).
//   A crash before that leaves at most a file in tmp/, which nothing reads
//   and a later scan deletes; the submitter never got an "ok" for it.
// - The message file is complete or it is not used at all: the header names
//   the text's size and a trailer follows the text, so a file cut short
//   anywhere (or damaged, or made by hand) fails to parse. Such a file is
//   moved to corrupt/ and reported; no recipient ever gets part of it.
// - The state file is replaced with rename (smtorp_fs_replace_durable), so
//   after a crash it is the old state or the new one, never a mixture. A
//   message without a state file is all pending: that is the state right
//   after enqueue, and also how a message is recovered after a crash, with
//   no special start-up code. The start-up scan is the periodic scan.
// - Removal deletes the message file first and the state file second; see
//   `remove(_:)` for why that order never redelivers.
//
// Untrusted input: the message text and envelope (from local submitters and
// peers) are copied into files; names and contents read back from the queue
// directories are parsed strictly (QueueID, QueueMessageFile,
// QueueStateFile), since the disk may be damaged or files put there by hand.
// Authority: files 0600, directories 0700; paths are built only from the
// configured directory and parsed queue ids.
// Standards: RFC 5321 §4.1.2 (paths), §6.1 (a message is the server's
// responsibility once acknowledged).
import SMTorPCore

/// The outbound queue: durable message files and their delivery state.
///
/// One process (the node) owns the queue and calls everything from its one
/// thread; other processes may `enqueue` and `list` at the same time.
public final class QueueStore {
    /// The queue directory (`<data>/queue`).
    public let directory: String
    /// The largest message text accepted by `enqueue`, in octets.
    public let maximumMessageSize: Int

    /// The most recipients one queued message may have (RFC 5321
    /// §4.5.3.1.8 requires servers to take 100 per transaction; a message
    /// with more goes out in several transactions).
    public static let maximumRecipients = 1000
    /// How old (in seconds, by the id's time) a file in tmp/ must be before
    /// a scan deletes it: younger ones may belong to an `enqueue` still
    /// running in another process.
    public static let temporaryFileGrace: Int64 = 3600
    /// The default `maximumMessageSize`: 64 MiB.
    public static let defaultMaximumMessageSize = 64 << 20

    /// Envelopes of message files already read and found complete. Message
    /// files never change, so each is read in full once, not on every scan.
    var verified: [QueueID: QueueMessageFile] = [:]
    /// The second of the last id made, and how many ids were made in it.
    var lastIDSecond: Int64 = -1
    var sequence: UInt32 = 0

    public var messageDirectory: String { directory + "/msg" }
    public var stateDirectory: String { directory + "/state" }
    var temporaryDirectory: String { directory + "/tmp" }
    var corruptDirectory: String { directory + "/corrupt" }

    /// Opens the queue in `directory` (normally `<data>/queue`), creating it
    /// and its subdirectories (0700) when missing.
    public init(directory: String,
                maximumMessageSize: Int = QueueStore.defaultMaximumMessageSize) throws(CoreError) {
        self.directory = directory
        self.maximumMessageSize = maximumMessageSize
        try DurableFile.makeDirectory(directory)
        for sub in [messageDirectory, stateDirectory, temporaryDirectory, corruptDirectory] {
            try DurableFile.makeDirectory(sub)
        }
    }

    // MARK: Enqueue

    /// Queues a message and returns its id. Returns only once the message
    /// file is durable: then (and only then) may the submitter be told
    /// "ok". No state file is written: a new message is all pending.
    ///
    /// - Parameters:
    ///   - reversePath: the sender; nil for the null reverse path `<>`.
    ///   - recipients: SMTorP addresses (at least one).
    ///   - message: the message text (RFC 5322), CRLF line ends.
    ///   - now: the arrival time, Unix seconds.
    public func enqueue(reversePath: Mailbox?, recipients: [Mailbox], stamps: [String?] = [], message: [UInt8],
                        now: Int64) throws(QueueError) -> QueueID {
        guard !recipients.isEmpty else { throw .noRecipients }
        guard recipients.count <= Self.maximumRecipients else { throw .tooManyRecipients(recipients.count) }
        guard message.count <= maximumMessageSize else { throw .messageTooLarge(message.count) }
        if let reversePath { try Self.checkWritable(reversePath) }
        for recipient in recipients {
            try Self.checkWritable(recipient)
            guard (try? Address.parseSMTorP(recipient.text)) != nil else {
                throw .recipientNotSMTorP(recipient.text)
            }
        }
        // A collision of 64 random bits (with the same second and sequence)
        // is not expected; should it happen, link() refuses to replace the
        // other message and a fresh id is tried.
        var attempt = 0
        while true {
            let id = try makeID(now: now)
            var file = QueueMessageFile(id: id, arrival: now, reversePath: reversePath,
                                        recipients: recipients, size: message.count)
            for (index, stamp) in stamps.enumerated() where index < recipients.count {
                // Only a stamp that can stand in the header and on the wire.
                if let stamp, !stamp.isEmpty, stamp.utf8.count <= ProofOfWorkLimits().maximumStampLength,
                   stamp.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x3D }) {
                    file.stamps[index] = stamp
                }
            }
            do throws(CoreError) {
                try DurableFile.write(path: messageDirectory + "/" + id.text,
                                      temporaryPath: temporaryDirectory + "/" + id.text,
                                      parts: [file.header(), message, file.trailer()])
                verified[id] = file
                return id
            } catch {
                attempt += 1
                if !error.isExists || attempt == 3 { throw .io(error) }
            }
        }
    }

    /// Refuses a mailbox that would not parse back to itself as a path
    /// (a CR or LF in it, over-long parts): such a mailbox could break the
    /// line structure of the message file and can never be sent anyway.
    static func checkWritable(_ mailbox: Mailbox) throws(QueueError) {
        let text = mailbox.text
        guard let path = try? Path.parse(Array(("<" + text + ">").utf8), limits: Limits(), allowsNull: false),
              let parsed = path.mailbox, parsed.text == text else {
            throw .invalidMailbox(RecipientState.sanitizedLine(text))
        }
    }

    func makeID(now: Int64) throws(QueueError) -> QueueID {
        var random = [UInt8](repeating: 0, count: 8)
        let result = smtorp_random_bytes(&random, random.count)
        guard result == SMTORP_OK else { throw .io(CoreError(result, context: "random bytes for a queue id")) }
        // Ids of one process sort in the order they were made, even when
        // the clock steps back: the second never decreases.
        if now > lastIDSecond {
            lastIDSecond = now
            sequence = 0
        } else {
            sequence += 1
        }
        return QueueID(unixSeconds: lastIDSecond, sequence: sequence, random: random)
    }

    // MARK: Scanning

    /// Reads the whole queue: every complete message with its state, in
    /// arrival order. The same pass serves start-up (recovery) and the
    /// periodic scan, and it tidies up after crashes:
    /// - files in tmp/ older than `temporaryFileGrace` are deleted (writes
    ///   that never finished: nobody was told "ok" for them);
    /// - an incomplete or damaged message file is moved to corrupt/ (with
    ///   its state) and reported in `corrupt`, never returned as an entry;
    /// - a damaged state file is moved to corrupt/ and reported; its message
    ///   is returned as all pending (a duplicate is the price of never
    ///   losing a message);
    /// - a state file without a message file (a crash inside `remove`) is
    ///   deleted.
    public func scan(now: Int64) -> QueueScan {
        read(now: now, repairing: true)
    }

    /// The queue as it is, for `smtorp queue` (like mailq): like `scan` but
    /// changes nothing on disk (damaged files are reported, not moved).
    public func list() -> QueueScan {
        read(now: 0, repairing: false)
    }

    func read(now: Int64, repairing: Bool) -> QueueScan {
        var scan = QueueScan(entries: [], corrupt: [], failures: [])
        if repairing { removeStaleTemporaryFiles(now: now, into: &scan) }
        let messageNames: [String]
        let stateNames: Set<String>
        do throws(CoreError) {
            messageNames = try QueueFileSystem.list(messageDirectory)
            stateNames = Set(try QueueFileSystem.list(stateDirectory))
        } catch {
            scan.failures.append(.io(error))
            return scan
        }
        var present: [QueueID: Bool] = [:]
        for name in messageNames {
            guard let id = QueueID(text: name) else {
                scan.corrupt.append(QueueScan.Corrupt(name: name, reason: "not a queue id"))
                if repairing { moveAside(messageDirectory + "/" + name, name: name, into: &scan) }
                continue
            }
            present[id] = true
            let file: QueueMessageFile
            do throws(QueueError) {
                file = try envelope(id)
            } catch {
                switch error {
                case .corrupt(_, let reason):
                    scan.corrupt.append(QueueScan.Corrupt(name: name, reason: reason))
                    if repairing { moveAsideMessage(id, into: &scan) }
                default:
                    scan.failures.append(error)
                }
                continue
            }
            var states = file.recipients.map { _ in RecipientState.pending(arrival: file.arrival) }
            if stateNames.contains(id.text) {
                do throws(QueueError) {
                    if let stored = try readStates(id, file: file, repairing: repairing, into: &scan) {
                        states = stored
                    }
                } catch {
                    scan.failures.append(error)
                    continue  // unreadable now: not scheduled until it can be read
                }
            }
            var entry = QueueEntry(id: id, arrival: file.arrival, reversePath: file.reversePath,
                                   recipients: file.recipients, size: file.size, states: states)
            entry.stamps = file.stamps
            scan.entries.append(entry)
        }
        for key in Array(verified.keys) where present[key] == nil { verified[key] = nil }
        if repairing {
            // A state file whose message is gone is left by a crash between
            // the two removals of `remove`: nothing reads it; delete it.
            for name in stateNames.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                guard let id = QueueID(text: name), present[id] == nil else { continue }
                do throws(CoreError) {
                    try QueueFileSystem.remove(stateDirectory + "/" + name)
                } catch {
                    scan.failures.append(.io(error))
                }
            }
        }
        return scan
    }

    /// The state file of `id`, or nil (reported, moved aside when
    /// repairing) when it is damaged.
    func readStates(_ id: QueueID, file: QueueMessageFile, repairing: Bool,
                    into scan: inout QueueScan) throws(QueueError) -> [RecipientState]? {
        let path = stateDirectory + "/" + id.text
        let bytes: [UInt8]
        do throws(CoreError) {
            bytes = try DurableFile.read(path: path, maxLength: Self.maximumStateFileSize)
        } catch {
            if error.code == SMTORP_ERR_BUFFER_TOO_SMALL.rawValue {
                bytes = []  // too large to be ours: damaged
            } else {
                throw .io(error)
            }
        }
        let parsed = QueueStateFile.parse(bytes, id: id, recipientCount: file.recipients.count)
        if let states = parsed.states { return states }
        scan.corrupt.append(QueueScan.Corrupt(name: id.text + ".state", reason: parsed.reason))
        if repairing { moveAside(path, name: id.text + ".state", into: &scan) }
        return nil
    }

    /// The largest state file read: a line per recipient of at most a few
    /// hundred octets plus the two texts.
    static let maximumStateFileSize = 64 + maximumRecipients * (160 + 2 * RecipientState.maximumTextLength)

    func removeStaleTemporaryFiles(now: Int64, into scan: inout QueueScan) {
        let names: [String]
        do throws(CoreError) {
            names = try QueueFileSystem.list(temporaryDirectory)
        } catch {
            scan.failures.append(.io(error))
            return
        }
        for name in names {
            // "<id>" (a message being written) or "<id>.state" (a state
            // being replaced); the id's time says how old the write is.
            let idText = String(decoding: Array(name.utf8.prefix(QueueID.length)), as: UTF8.self)
            if let id = QueueID(text: idText), now - id.unixSeconds < Self.temporaryFileGrace,
               name.utf8.count == QueueID.length || name == idText + ".state" {
                continue
            }
            do throws(CoreError) {
                try QueueFileSystem.remove(temporaryDirectory + "/" + name)
            } catch {
                scan.failures.append(.io(error))
            }
        }
    }

    // MARK: Reading one message

    /// The envelope of message `id`: from the cache, or read and checked
    /// in full (throws `.corrupt` for an incomplete file, which stays in
    /// place: `scan` moves it aside).
    func envelope(_ id: QueueID) throws(QueueError) -> QueueMessageFile {
        if let file = verified[id] { return file }
        let file = try readMessageFile(id).file
        verified[id] = file
        return file
    }

    func readMessageFile(_ id: QueueID) throws(QueueError) -> (file: QueueMessageFile, bytes: [UInt8], text: Range<Int>) {
        let path = messageDirectory + "/" + id.text
        guard DurableFile.exists(path) else { throw .notFound(id) }
        let bytes: [UInt8]
        do throws(CoreError) {
            // The header is at most a few hundred octets per recipient.
            bytes = try DurableFile.read(path: path,
                                         maxLength: maximumMessageSize + 4096 + Self.maximumRecipients * 600)
        } catch {
            throw .io(error)
        }
        let parsed = try QueueMessageFile.parse(bytes, id: id)
        return (parsed.file, bytes, parsed.text)
    }

    /// Message `id` with its current state.
    public func load(_ id: QueueID) throws(QueueError) -> QueueEntry {
        let file = try envelope(id)
        var states = file.recipients.map { _ in RecipientState.pending(arrival: file.arrival) }
        let statePath = stateDirectory + "/" + id.text
        if DurableFile.exists(statePath) {
            let bytes: [UInt8]
            do throws(CoreError) {
                bytes = try DurableFile.read(path: statePath, maxLength: Self.maximumStateFileSize)
            } catch {
                throw .io(error)
            }
            // A damaged state file means all pending (as in `scan`), which
            // reports and moves it.
            if let stored = QueueStateFile.parse(bytes, id: id, recipientCount: file.recipients.count).states {
                states = stored
            }
        }
        var entry = QueueEntry(id: id, arrival: file.arrival, reversePath: file.reversePath,
                               recipients: file.recipients, size: file.size, states: states)
        entry.stamps = file.stamps
        return entry
    }

    /// The text of message `id`, checked again in full: a file found damaged
    /// now is moved to corrupt/ and `.corrupt` thrown, so that not one octet
    /// of an incomplete message is sent.
    public func message(_ id: QueueID) throws(QueueError) -> [UInt8] {
        do throws(QueueError) {
            let read = try readMessageFile(id)
            return Array(read.bytes[read.text])
        } catch {
            if case .corrupt = error {
                var ignored = QueueScan(entries: [], corrupt: [], failures: [])
                moveAsideMessage(id, into: &ignored)
            }
            throw error
        }
    }

    // MARK: Changing state

    /// Replaces the state of message `id`: one state per recipient, in
    /// order. Durable and atomic when it returns (a crash leaves the old
    /// state or this one).
    public func update(_ id: QueueID, states: [RecipientState]) throws(QueueError) {
        let file = try envelope(id)
        guard states.count == file.recipients.count else { throw .stateMismatch(id) }
        do throws(CoreError) {
            try QueueFileSystem.replace(path: stateDirectory + "/" + id.text,
                                        temporaryPath: temporaryDirectory + "/" + id.text + ".state",
                                        bytes: QueueStateFile.render(id: id, states: states))
        } catch {
            throw .io(error)
        }
    }

    /// Removes a finished message: every recipient final and its DSN, if
    /// any, already produced and recorded (`QueueEntry.isFinished`).
    public func remove(_ id: QueueID) throws(QueueError) {
        // The order matters. The message file is what makes a message exist;
        // a message file without a state file is "all pending" (the state
        // right after enqueue, and how a crash is recovered). So removing the
        // state first would be wrong: a crash before the message file is gone
        // would bring the message back all pending, and every recipient would
        // get it again (and the sender a second bounce).
        // Removing the message file first, a crash in between leaves only a
        // state file without its message: nothing reads it, and the next scan
        // deletes it. The message file's removal is fsynced (its directory)
        // before the state file is touched, because unlinks in two
        // directories reach the disk in no guaranteed order; the state's
        // removal needs no fsync, since an orphan is harmless.
        do throws(CoreError) {
            try QueueFileSystem.removeDurably(messageDirectory + "/" + id.text)
            verified[id] = nil
            try QueueFileSystem.remove(stateDirectory + "/" + id.text)
        } catch {
            throw .io(error)
        }
    }

    // MARK: Damaged files

    func moveAsideMessage(_ id: QueueID, into scan: inout QueueScan) {
        verified[id] = nil
        moveAside(messageDirectory + "/" + id.text, name: id.text, into: &scan)
        let statePath = stateDirectory + "/" + id.text
        if DurableFile.exists(statePath) {
            moveAside(statePath, name: id.text + ".state", into: &scan)
        }
    }

    func moveAside(_ path: String, name: String, into scan: inout QueueScan) {
        do throws(CoreError) {
            try QueueFileSystem.rename(path, to: corruptDirectory + "/" + name)
        } catch {
            scan.failures.append(.io(error))
        }
    }
}
