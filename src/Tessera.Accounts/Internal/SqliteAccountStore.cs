using Microsoft.Data.Sqlite;

using Tessera.Auth;

namespace Tessera.Accounts.Internal;

/// <summary>
/// The default store: one SQLite file in WAL mode (readers never block the writer; committed transactions
/// survive a killed process). Nodes on one machine can share the file. Times are Unix milliseconds. The file (and the
/// <c>-wal</c> and <c>-shm</c> SQLite derives from it) is owner-only: created 0600 before SQLite first opens it, in a
/// directory created 0700; an existing one readable by others is tightened when the store first opens it.
/// </summary>
internal sealed class SqliteAccountStore : IAccountStore
{
    private const int SchemaVersion = 3;

    private readonly string _connectionString;

    public SqliteAccountStore(string databasePath)
    {
        ArgumentException.ThrowIfNullOrEmpty(databasePath);
        DatabasePath = Path.GetFullPath(databasePath);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            // Also how long a writer waits for another one (Microsoft.Data.Sqlite retries SQLITE_BUSY until then).
            DefaultTimeout = 10,
        }.ToString();
    }

    public string DatabasePath { get; }

    private volatile bool _filesReady;

    /// <summary>Before the first connection: owner-only directory and database file, whoever opens the store first.</summary>
    private void PrepareFiles()
    {
        if (_filesReady)
        {
            return;
        }
        DataFiles.EnsureDirectory(Path.GetDirectoryName(DatabasePath)!);
        DataFiles.CreateOwnerOnly(DatabasePath);
        foreach (var suffix in (ReadOnlySpan<string>)["", "-wal", "-shm", "-journal"])
        {
            DataFiles.RestrictToOwner(DatabasePath + suffix);
        }
        _filesReady = true;
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        PrepareFiles();
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;";
        await pragma.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }

    private static SqliteCommand Command(SqliteConnection connection, string sql, SqliteTransaction? transaction = null, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        return command;
    }

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    public async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (var wal = Command(connection, "PRAGMA journal_mode = WAL;"))
        {
            await wal.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        }
        long version;
        await using (var get = Command(connection, "PRAGMA user_version;"))
        {
            version = (long)(await get.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }
        if (version > SchemaVersion)
        {
            throw new InvalidOperationException($"The database {DatabasePath} has schema version {version}, newer than this Tessera ({SchemaVersion}).");
        }
        // Migrations run in order, each in its own transaction; add a step for every schema change.
        if (version < 1)
        {
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using var create = Command(connection, """
                CREATE TABLE users (
                    id TEXT PRIMARY KEY,
                    username TEXT NOT NULL,
                    username_key TEXT NOT NULL UNIQUE,
                    password_hash TEXT NOT NULL,
                    disabled INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL);
                CREATE TABLE sessions (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users(id),
                    created_at INTEGER NOT NULL,
                    revoked_at INTEGER);
                CREATE INDEX sessions_user ON sessions(user_id);
                CREATE TABLE refresh_tokens (
                    hash TEXT PRIMARY KEY,
                    session_id TEXT NOT NULL REFERENCES sessions(id),
                    expires_at INTEGER NOT NULL,
                    used_at INTEGER,
                    created_at INTEGER NOT NULL);
                CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);
                CREATE TABLE revocations (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    session_id TEXT,
                    user_id TEXT,
                    at INTEGER NOT NULL);
                PRAGMA user_version = 1;
                """, transaction);
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        if (version < 2)
        {
            // One row that the health check rewrites: proof that the store can still commit writes.
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using var create = Command(connection, """
                CREATE TABLE health (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL);
                PRAGMA user_version = 2;
                """, transaction);
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        if (version < 3)
        {
            // Generated signing keys (ES256 / RS256) and the Data Protection key ring that protects their private parts.
            await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using var create = Command(connection, """
                CREATE TABLE signing_keys (
                    generation INTEGER PRIMARY KEY,
                    kid TEXT NOT NULL UNIQUE,
                    alg TEXT NOT NULL,
                    private_key TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    activates_at INTEGER NOT NULL,
                    retires_at INTEGER NOT NULL);
                CREATE TABLE data_protection_keys (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    friendly_name TEXT,
                    xml TEXT NOT NULL);
                PRAGMA user_version = 3;
                """, transaction);
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async Task CheckHealthAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = Command(connection, "INSERT INTO health (id, at) VALUES (1, $now) ON CONFLICT(id) DO UPDATE SET at = excluded.at;", null, ("$now", Now()));
        await write.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static UserAccount ReadUser(SqliteDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetString(2),
        reader.GetInt64(3) != 0,
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)));

    private const string UserColumns = "id, username, password_hash, disabled, created_at";

    public async Task<UserAccount?> CreateUserAsync(string username, string passwordHash, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var id = Guid.NewGuid().ToString("N");
        var now = Now();
        await using var insert = Command(connection,
            "INSERT INTO users (id, username, username_key, password_hash, disabled, created_at) VALUES ($id, $name, $key, $hash, 0, $now) ON CONFLICT(username_key) DO NOTHING;",
            null, ("$id", id), ("$name", username), ("$key", username.ToUpperInvariant()), ("$hash", passwordHash), ("$now", now));
        var inserted = await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return inserted == 1 ? new UserAccount(id, username, passwordHash, false, DateTimeOffset.FromUnixTimeMilliseconds(now)) : null;
    }

    public Task<UserAccount?> FindUserByNameAsync(string username, CancellationToken cancellationToken = default) =>
        FindUserAsync("username_key = $value", username.ToUpperInvariant(), cancellationToken);

    public Task<UserAccount?> FindUserByIdAsync(string id, CancellationToken cancellationToken = default) =>
        FindUserAsync("id = $value", id, cancellationToken);

    private async Task<UserAccount?> FindUserAsync(string condition, string value, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var select = Command(connection, $"SELECT {UserColumns} FROM users WHERE {condition};", null, ("$value", value));
        await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadUser(reader) : null;
    }

    public async Task<IReadOnlyList<UserAccount>> ListUsersAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var select = Command(connection, $"SELECT {UserColumns} FROM users ORDER BY created_at, username;");
        await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var users = new List<UserAccount>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            users.Add(ReadUser(reader));
        }
        return users;
    }

    public async Task<bool> SetDisabledAsync(string userId, bool disabled, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var update = Command(connection, "UPDATE users SET disabled = $disabled WHERE id = $id;", transaction, ("$disabled", disabled ? 1 : 0), ("$id", userId));
        var found = await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
        if (found && disabled)
        {
            await RevokeUserLockedAsync(connection, transaction, userId, cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return found;
    }

    public async Task UpdatePasswordHashAsync(string userId, string passwordHash, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var update = Command(connection, "UPDATE users SET password_hash = $hash WHERE id = $id;", null, ("$hash", passwordHash), ("$id", userId));
        await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task CreateSessionAsync(string sessionId, string userId, string refreshTokenHash, DateTimeOffset refreshExpiresAt, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var now = Now();
        await using (var session = Command(connection, "INSERT INTO sessions (id, user_id, created_at) VALUES ($id, $user, $now);", transaction,
            ("$id", sessionId), ("$user", userId), ("$now", now)))
        {
            await session.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await InsertRefreshTokenAsync(connection, transaction, refreshTokenHash, sessionId, refreshExpiresAt, now, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task InsertRefreshTokenAsync(SqliteConnection connection, SqliteTransaction transaction, string hash, string sessionId, DateTimeOffset expiresAt, long now, CancellationToken cancellationToken)
    {
        await using var insert = Command(connection,
            "INSERT INTO refresh_tokens (hash, session_id, expires_at, created_at) VALUES ($hash, $session, $expires, $now);", transaction,
            ("$hash", hash), ("$session", sessionId), ("$expires", expiresAt.ToUnixTimeMilliseconds()), ("$now", now));
        await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task<RefreshResult> RotateRefreshTokenAsync(string tokenHash, string newTokenHash, DateTimeOffset newExpiresAt, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        RotateRefreshTokenAsync(tokenHash, newTokenHash, newExpiresAt, now, TimeSpan.Zero, cancellationToken);

    public async Task<RefreshResult> RotateRefreshTokenAsync(
        string tokenHash, string newTokenHash, DateTimeOffset newExpiresAt, DateTimeOffset now, TimeSpan reuseGrace, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        // BEGIN IMMEDIATE takes the write lock first: concurrent rotations of one token are serialised, so the
        // second one sees the token already used.
        await using var transaction = connection.BeginTransaction(deferred: false);
        string sessionId;
        string userId;
        long expiresAt;
        long? usedAt;
        bool dead;
        await using (var select = Command(connection, """
            SELECT t.session_id, s.user_id, t.expires_at, t.used_at, s.revoked_at IS NOT NULL OR u.disabled <> 0
            FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id
            WHERE t.hash = $hash;
            """, transaction, ("$hash", tokenHash)))
        await using (var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return new RefreshResult(RefreshOutcome.Invalid);
            }
            sessionId = reader.GetString(0);
            userId = reader.GetString(1);
            expiresAt = reader.GetInt64(2);
            usedAt = reader.IsDBNull(3) ? null : reader.GetInt64(3);
            dead = reader.GetBoolean(4);
        }
        var nowMs = now.ToUnixTimeMilliseconds();
        var outcome = RefreshRotation.Decide(
            DateTimeOffset.FromUnixTimeMilliseconds(expiresAt), usedAt is { } used ? DateTimeOffset.FromUnixTimeMilliseconds(used) : null, dead, now, reuseGrace);
        switch (outcome)
        {
            case RefreshOutcome.Rotated:
                await using (var markUsed = Command(connection, "UPDATE refresh_tokens SET used_at = $now WHERE hash = $hash AND used_at IS NULL;", transaction,
                    ("$now", nowMs), ("$hash", tokenHash)))
                {
                    if (await markUsed.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
                    {
                        return new RefreshResult(RefreshOutcome.Reused, sessionId, userId);
                    }
                }
                await InsertRefreshTokenAsync(connection, transaction, newTokenHash, sessionId, newExpiresAt, nowMs, cancellationToken).ConfigureAwait(false);
                break;
            case RefreshOutcome.ReusedWithinGrace:
                await InsertRefreshTokenAsync(connection, transaction, newTokenHash, sessionId, newExpiresAt, nowMs, cancellationToken).ConfigureAwait(false);
                break;
            case RefreshOutcome.Reused:
                await RevokeSessionLockedAsync(connection, transaction, sessionId, userId, cancellationToken).ConfigureAwait(false);
                break;
            default:
                return new RefreshResult(outcome, sessionId, userId);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new RefreshResult(outcome, sessionId, userId);
    }

    public async Task<bool> RevokeSessionAsync(string sessionId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var revoked = await RevokeSessionLockedAsync(connection, transaction, sessionId, null, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return revoked;
    }

    private static async Task<bool> RevokeSessionLockedAsync(SqliteConnection connection, SqliteTransaction transaction, string sessionId, string? userId, CancellationToken cancellationToken)
    {
        var now = Now();
        await using var update = Command(connection, "UPDATE sessions SET revoked_at = $now WHERE id = $id AND revoked_at IS NULL;", transaction, ("$now", now), ("$id", sessionId));
        if (await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
        {
            return false;
        }
        await using var log = Command(connection, "INSERT INTO revocations (session_id, user_id, at) VALUES ($session, $user, $now);", transaction,
            ("$session", sessionId), ("$user", userId), ("$now", now));
        await log.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task RevokeUserSessionsAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await RevokeUserLockedAsync(connection, transaction, userId, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task RevokeUserLockedAsync(SqliteConnection connection, SqliteTransaction transaction, string userId, CancellationToken cancellationToken)
    {
        var now = Now();
        await using var update = Command(connection, "UPDATE sessions SET revoked_at = $now WHERE user_id = $user AND revoked_at IS NULL;", transaction, ("$now", now), ("$user", userId));
        await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        // One user-wide event: every node disconnects all the user's sockets, whatever session they belong to.
        await using var log = Command(connection, "INSERT INTO revocations (session_id, user_id, at) VALUES (NULL, $user, $now);", transaction, ("$user", userId), ("$now", now));
        await log.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> IsSessionRevokedAsync(string sessionId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var select = Command(connection,
            "SELECT s.revoked_at IS NOT NULL OR u.disabled <> 0 FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $id;", null, ("$id", sessionId));
        var result = await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        // An unknown session is not one this store issued: treat it as revoked.
        return result is null || Convert.ToInt64(result, System.Globalization.CultureInfo.InvariantCulture) != 0;
    }

    public async Task<bool> IsSessionActiveAsync(string sessionId, string userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        // One read: the session exists, belongs to this user, is not revoked, and the user exists and is enabled.
        await using var select = Command(connection,
            "SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $id AND s.user_id = $user AND s.revoked_at IS NULL AND u.disabled = 0;",
            null, ("$id", sessionId), ("$user", userId));
        return await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null;
    }

    public async Task<IReadOnlyList<RevocationEvent>> RevocationsAfterAsync(long afterId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var select = Command(connection, "SELECT id, session_id, user_id, at FROM revocations WHERE id > $after ORDER BY id LIMIT 1000;", null, ("$after", afterId));
        await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var events = new List<RevocationEvent>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            events.Add(new RevocationEvent(
                reader.GetInt64(0),
                reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3))));
        }
        return events;
    }

    public async Task<long> LastRevocationIdAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var select = Command(connection, "SELECT COALESCE(MAX(id), 0) FROM revocations;");
        return (long)(await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    public async Task<IReadOnlyList<StoredSigningKey>> ListSigningKeysAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var select = Command(connection, "SELECT generation, kid, alg, private_key, created_at, activates_at, retires_at FROM signing_keys ORDER BY generation;");
        await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var keys = new List<StoredSigningKey>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            keys.Add(new StoredSigningKey(
                reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6))));
        }
        return keys;
    }

    public async Task<bool> TryAddSigningKeyAsync(StoredSigningKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var insert = Command(connection, """
            INSERT INTO signing_keys (generation, kid, alg, private_key, created_at, activates_at, retires_at)
            VALUES ($generation, $kid, $alg, $key, $created, $activates, $retires) ON CONFLICT DO NOTHING;
            """, null,
            ("$generation", key.Generation), ("$kid", key.KeyId), ("$alg", key.Algorithm), ("$key", key.ProtectedPrivateKey),
            ("$created", key.CreatedAt.ToUnixTimeMilliseconds()), ("$activates", key.ActivatesAt.ToUnixTimeMilliseconds()), ("$retires", key.RetiresAt.ToUnixTimeMilliseconds()));
        return await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    public async Task DeleteSigningKeyAsync(string keyId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var delete = Command(connection, "DELETE FROM signing_keys WHERE kid = $kid;", null, ("$kid", keyId));
        await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public IReadOnlyList<string> GetDataProtectionKeys()
    {
        PrepareFiles();
        using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var select = Command(connection, "SELECT xml FROM data_protection_keys ORDER BY id;");
        using var reader = select.ExecuteReader();
        var elements = new List<string>();
        while (reader.Read())
        {
            elements.Add(reader.GetString(0));
        }
        return elements;
    }

    public void StoreDataProtectionKey(string friendlyName, string xml)
    {
        PrepareFiles();
        using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var insert = Command(connection, "INSERT INTO data_protection_keys (friendly_name, xml) VALUES ($name, $xml);", null, ("$name", friendlyName), ("$xml", xml));
        insert.ExecuteNonQuery();
    }
}
