// PasswordFile.swift: the users of the mail submission listener and their
// password hashes, one `user:hash` line each, where hash is libsodium's
// crypto_pwhash_str string (Argon2id). Blank lines and lines starting with
// "#" are ignored. `PasswordFile.entry(user:password:)` makes a line (for
// `smtorp passwd`).
//
// Untrusted input: the file is the operator's (trusted, but parsed strictly:
// a malformed line is an error naming its number, never a silent skip); the
// user name and password given to `verify` come from a network client
// (AUTH PLAIN). The lookup does not tell by its time whether a user exists:
// every check runs one Argon2id verification, against a hash of an unknown
// password when the user is missing, and the user names are compared in
// constant time. Passwords are never logged or kept.
// Standards: RFC 9106 (Argon2), RFC 4616 §2 (user names are UTF-8).
import SMTorPCore

/// Why a password file or a new entry was refused.
public enum PasswordFileError: Error, Equatable, Sendable {
    /// The file could not be read (the C core's description).
    case unreadable(String)
    /// The line with this number (from 1) is not `user:hash`.
    case malformedLine(Int)
    /// The user on the line with this number appeared on an earlier line.
    case duplicateUser(line: Int)
    /// A user name that cannot be in the file: empty, over 255 octets, not
    /// UTF-8, with ":", a control character, or a leading "#".
    case invalidUser
    /// An empty password.
    case emptyPassword
    /// Hashing failed (the C core's description).
    case hashFailed(String)

    /// A sentence for the operator.
    public var message: String {
        switch self {
        case .unreadable(let why): return "cannot read the password file: " + why
        case .malformedLine(let n): return "password file line " + String(n) + " is not user:argon2id-hash"
        case .duplicateUser(let n): return "password file line " + String(n) + " repeats a user"
        case .invalidUser:
            return "a user name is 1 to 255 octets of UTF-8 without \":\", control characters or a leading \"#\""
        case .emptyPassword: return "the password is empty"
        case .hashFailed(let why): return "cannot hash the password: " + why
        }
    }
}

/// The submission listener's users and their password hashes.
public struct PasswordFile: Sendable {
    private struct Entry: Sendable {
        var user: [UInt8]
        var hash: String
    }

    private var entries: [Entry]

    /// The longest file read (a password file is small).
    public static let maxFileLength = 1 << 20

    /// A crypto_pwhash_str hash of a random password nobody knows (thrown
    /// away when it was made), with the parameters new entries get: checked
    /// for users that do not exist, so that they cost the same time.
    public static let absentUserHash =
        "$argon2id$v=19$m=65536,t=2,p=1$g4XH0ABnLcYmWtLUQGnSAw$csFGbVtRMm1lEOIZdAaGPjZEhNdHJMzw7yDmMc3NKvY"

    /// Parses the text of a password file.
    public init(parsing bytes: [UInt8]) throws(PasswordFileError) {
        entries = []
        var number = 0
        for rawLine in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            number += 1
            var line = rawLine
            if line.last == 0x0D {
                line = line.dropLast()
            }
            if line.isEmpty || line.first == 0x23 {  // blank or "#"
                continue
            }
            guard let colon = line.firstIndex(of: 0x3A) else {
                throw .malformedLine(number)
            }
            let user = Array(line[line.startIndex..<colon])
            let hash = line[(colon + 1)...]
            guard Self.isValidUser(user), Self.isValidHash(hash) else {
                throw .malformedLine(number)
            }
            guard !entries.contains(where: { $0.user == user }) else {
                throw .duplicateUser(line: number)
            }
            entries.append(Entry(user: user, hash: String(decoding: hash, as: UTF8.self)))
        }
    }

    /// Reads and parses the password file at `path`.
    public static func load(path: String) throws(PasswordFileError) -> PasswordFile {
        let bytes: [UInt8]
        do throws(CoreError) {
            bytes = try DurableFile.read(path: path, maxLength: maxFileLength)
        } catch {
            throw .unreadable(error.message)
        }
        return try PasswordFile(parsing: bytes)
    }

    /// The user names, in file order.
    public var users: [String] {
        entries.map { String(decoding: $0.user, as: UTF8.self) }
    }

    /// Whether `password` is the password of `user` (names compared octet
    /// for octet). Takes one Argon2id verification whether or not the user
    /// exists (tens of milliseconds, on the caller's thread).
    public func verify(user: String, password: [UInt8]) -> Bool {
        let (hash, exists) = hashToCheck(user: user)
        let matches = smtorp_password_verify(hash, password, password.count) == 1
        return matches && exists
    }

    /// The hash a password for `user` is checked against, and whether the
    /// user exists: for a user who does not, a hash nobody's password
    /// matches, so that the check costs the same time (a server that checks
    /// on a worker thread asks this first, then counts a match only when
    /// the user exists).
    public func hashToCheck(user: String) -> (hash: String, userExists: Bool) {
        let name = Array(user.utf8)
        var found: Entry? = nil
        for entry in entries where entry.user.count == name.count {
            // Every entry is looked at: the position of a match is not timed.
            if smtorp_constant_time_equal(entry.user, name, name.count) == 1 {
                found = entry
            }
        }
        return (found?.hash ?? Self.absentUserHash, found != nil)
    }

    /// A new line for the file, `user:hash` (without a line end), with a
    /// fresh Argon2id hash of `password`.
    public static func entry(user: String, password: String) throws(PasswordFileError) -> String {
        let name = Array(user.utf8)
        guard isValidUser(name) else {
            throw .invalidUser
        }
        let secret = Array(password.utf8)
        guard !secret.isEmpty else {
            throw .emptyPassword
        }
        var buffer = [CChar](repeating: 0, count: smtorp_password_hash_size())
        let result = smtorp_password_hash(secret, secret.count, &buffer, buffer.count)
        guard result == SMTORP_OK else {
            throw .hashFailed(CoreError(result).message)
        }
        return user + ":" + string(fromCBuffer: buffer)
    }

    /// A user name the file can hold (see `PasswordFileError.invalidUser`).
    static func isValidUser(_ name: [UInt8]) -> Bool {
        guard !name.isEmpty, name.count <= 255, name.first != 0x23 else {
            return false
        }
        guard name.allSatisfy({ $0 >= 0x20 && $0 != 0x7F && $0 != 0x3A }) else {
            return false
        }
        return Path.isValidUTF8(name[...])
    }

    /// A crypto_pwhash_str string: "$argon2", printable ASCII, shorter than
    /// the C core's buffer.
    static func isValidHash(_ hash: ArraySlice<UInt8>) -> Bool {
        hash.starts(with: Array("$argon2".utf8)) && hash.count < 128
            && hash.allSatisfy { $0 >= 0x21 && $0 <= 0x7E }
    }
}
