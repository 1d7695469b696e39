using Npgsql;
using NpgsqlTypes;

namespace Tessera.Accounts.PostgreSql.Internal;

/// <summary>
/// The account store on PostgreSQL, for nodes on many machines. Same model as the SQLite store (times in Unix
/// milliseconds, refresh tokens as SHA-256 hashes), in tables prefixed <c>tessera_</c>. Concurrency: a rotation locks
/// its token's row (<c>FOR UPDATE</c>), so of two rotations of one token the second sees it used; revocations are
/// appended under a transaction-level advisory lock, so their ids commit in order and a reader of "ids after N"
/// never skips one that commits late.
/// </summary>
internal sealed class PostgreSqlAccountStore : IAccountStore, IAsyncDisposable, IDisposable
{
    private const int SchemaVersion = 1;

    // Arbitrary constants naming Tessera's advisory locks (pg_advisory_xact_lock takes a bigint).
    private const long MigrationLock = 0x7e55e7a_0001;
    private const long RevocationLock = 0x7e55e7a_0002;

    private readonly NpgsqlDataSource _dataSource;

    public PostgreSqlAccountStore(string connectionString)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        _dataSource = NpgsqlDataSource.Create(connectionString);
    }

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private static NpgsqlCommand Command(NpgsqlConnection connection, string sql, NpgsqlTransaction? transaction = null, params (string Name, object? Value)[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        return command;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, sql, transaction, parameters);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        // Nodes starting together: one migrates, the others wait here and then find the schema current.
        await ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(@lock);", cancellationToken, ("lock", MigrationLock)).ConfigureAwait(false);
        await ExecuteAsync(connection, transaction, "CREATE TABLE IF NOT EXISTS tessera_schema (version integer NOT NULL);", cancellationToken).ConfigureAwait(false);
        int version;
        await using (var get = Command(connection, "SELECT COALESCE(MAX(version), 0) FROM tessera_schema;", transaction))
        {
            version = Convert.ToInt32(await get.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        }
        if (version > SchemaVersion)
        {
            throw new InvalidOperationException($"The PostgreSQL database has Tessera schema version {version}, newer than this Tessera ({SchemaVersion}).");
        }
        // Migrations in order, in this one transaction; add a step for every schema change.
        if (version < 1)
        {
            await ExecuteAsync(connection, transaction, """
                CREATE TABLE tessera_users (
                    id text PRIMARY KEY,
                    username text NOT NULL,
                    username_key text NOT NULL UNIQUE,
                    password_hash text NOT NULL,
                    disabled boolean NOT NULL DEFAULT false,
                    created_at bigint NOT NULL);
                CREATE TABLE tessera_sessions (
                    id text PRIMARY KEY,
                    user_id text NOT NULL REFERENCES tessera_users(id),
                    created_at bigint NOT NULL,
                    revoked_at bigint);
                CREATE INDEX tessera_sessions_user ON tessera_sessions(user_id);
                CREATE TABLE tessera_refresh_tokens (
                    hash text PRIMARY KEY,
                    session_id text NOT NULL REFERENCES tessera_sessions(id),
                    expires_at bigint NOT NULL,
                    used_at bigint,
                    created_at bigint NOT NULL);
                CREATE INDEX tessera_refresh_tokens_session ON tessera_refresh_tokens(session_id);
                CREATE TABLE tessera_revocations (
                    id bigserial PRIMARY KEY,
                    session_id text,
                    user_id text,
                    at bigint NOT NULL);
                CREATE TABLE tessera_health (id integer PRIMARY KEY CHECK (id = 1), at bigint NOT NULL);
                CREATE TABLE tessera_signing_keys (
                    generation bigint PRIMARY KEY,
                    kid text NOT NULL UNIQUE,
                    alg text NOT NULL,
                    private_key text NOT NULL,
                    created_at bigint NOT NULL,
                    activates_at bigint NOT NULL,
                    retires_at bigint NOT NULL);
                CREATE TABLE tessera_data_protection_keys (
                    id bigserial PRIMARY KEY,
                    friendly_name text,
                    xml text NOT NULL);
                INSERT INTO tessera_schema (version) VALUES (1);
                """, cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task CheckHealthAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        // A write, not only a read: a database that cannot commit (read-only replica, disk full) cannot serve logins.
        await ExecuteAsync(connection, null, "INSERT INTO tessera_health (id, at) VALUES (1, @now) ON CONFLICT (id) DO UPDATE SET at = excluded.at;", cancellationToken, ("now", Now())).ConfigureAwait(false);
    }

    private const string UserColumns = "id, username, password_hash, disabled, created_at";

    private static UserAccount ReadUser(NpgsqlDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetBoolean(3), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)));

    public async Task<UserAccount?> CreateUserAsync(string username, string passwordHash, CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var id = Guid.NewGuid().ToString("N");
        var now = Now();
        await using var insert = Command(connection,
            "INSERT INTO tessera_users (id, username, username_key, password_hash, disabled, created_at) VALUES (@id, @name, @key, @hash, false, @now) ON CONFLICT (username_key) DO NOTHING;",
            null, ("id", id), ("name", username), ("key", username.ToUpperInvariant()), ("hash", passwordHash), ("now", now));
        var inserted = await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return inserted == 1 ? new UserAccount(id, username, passwordHash, false, DateTimeOffset.FromUnixTimeMilliseconds(now)) : null;
    }

    public Task<UserAccount?> FindUserByNameAsync(string username, CancellationToken cancellationToken = default) =>
        FindUserAsync("username_key = @value", username.ToUpperInvariant(), cancellationToken);

    public Task<UserAccount?> FindUserByIdAsync(string id, CancellationToken cancellationToken = default) =>
        FindUserAsync("id = @value", id, cancellationToken);

    private async Task<UserAccount?> FindUserAsync(string condition, string value, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var select = Command(connection, $"SELECT {UserColumns} FROM tessera_users WHERE {condition};", null, ("value", value));
        await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadUser(reader) : null;
    }

    public async Task<IReadOnlyList<UserAccount>> ListUsersAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var select = Command(connection, $"SELECT {UserColumns} FROM tessera_users ORDER BY created_at, username;");
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
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        bool found;
        await using (var update = Command(connection, "UPDATE tessera_users SET disabled = @disabled WHERE id = @id;", transaction, ("disabled", disabled), ("id", userId)))
        {
            found = await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
        }
        if (found && disabled)
        {
            await RevokeUserLockedAsync(connection, transaction, userId, cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return found;
    }

    public async Task UpdatePasswordHashAsync(string userId, string passwordHash, CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, null, "UPDATE tessera_users SET password_hash = @hash WHERE id = @id;", cancellationToken, ("hash", passwordHash), ("id", userId)).ConfigureAwait(false);
    }

    public async Task CreateSessionAsync(string sessionId, string userId, string refreshTokenHash, DateTimeOffset refreshExpiresAt, CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var now = Now();
        await ExecuteAsync(connection, transaction, "INSERT INTO tessera_sessions (id, user_id, created_at) VALUES (@id, @user, @now);", cancellationToken,
            ("id", sessionId), ("user", userId), ("now", now)).ConfigureAwait(false);
        await InsertRefreshTokenAsync(connection, transaction, refreshTokenHash, sessionId, refreshExpiresAt, now, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static Task InsertRefreshTokenAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string hash, string sessionId, DateTimeOffset expiresAt, long now, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, "INSERT INTO tessera_refresh_tokens (hash, session_id, expires_at, created_at) VALUES (@hash, @session, @expires, @now);", cancellationToken,
            ("hash", hash), ("session", sessionId), ("expires", expiresAt.ToUnixTimeMilliseconds()), ("now", now));

    public Task<RefreshResult> RotateRefreshTokenAsync(string tokenHash, string newTokenHash, DateTimeOffset newExpiresAt, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        RotateRefreshTokenAsync(tokenHash, newTokenHash, newExpiresAt, now, TimeSpan.Zero, cancellationToken);

    public async Task<RefreshResult> RotateRefreshTokenAsync(
        string tokenHash, string newTokenHash, DateTimeOffset newExpiresAt, DateTimeOffset now, TimeSpan reuseGrace, CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        string sessionId;
        string userId;
        long expiresAt;
        long? usedAt;
        bool dead;
        // FOR UPDATE OF t: concurrent rotations of one token queue on its row; the second reads it already used.
        await using (var select = Command(connection, """
            SELECT t.session_id, s.user_id, t.expires_at, t.used_at, s.revoked_at IS NOT NULL OR u.disabled
            FROM tessera_refresh_tokens t JOIN tessera_sessions s ON s.id = t.session_id JOIN tessera_users u ON u.id = s.user_id
            WHERE t.hash = @hash FOR UPDATE OF t;
            """, transaction, ("hash", tokenHash)))
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
                // The row is locked: nobody else marked it used since it was read.
                await ExecuteAsync(connection, transaction, "UPDATE tessera_refresh_tokens SET used_at = @now WHERE hash = @hash;", cancellationToken,
                    ("now", nowMs), ("hash", tokenHash)).ConfigureAwait(false);
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
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var revoked = await RevokeSessionLockedAsync(connection, transaction, sessionId, null, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return revoked;
    }

    private static async Task<bool> RevokeSessionLockedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sessionId, string? userId, CancellationToken cancellationToken)
    {
        var now = Now();
        await using (var update = Command(connection, "UPDATE tessera_sessions SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL;", transaction, ("now", now), ("id", sessionId)))
        {
            if (await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
            {
                return false;
            }
        }
        await AppendRevocationAsync(connection, transaction, sessionId, userId, now, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Under the revocation lock, held to the commit: ids become visible in the order they were given.</summary>
    private static async Task AppendRevocationAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string? sessionId, string? userId, long now, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(@lock);", cancellationToken, ("lock", RevocationLock)).ConfigureAwait(false);
        await using var log = Command(connection, "INSERT INTO tessera_revocations (session_id, user_id, at) VALUES (@session, @user, @now);", transaction,
            ("now", now));
        log.Parameters.Add(new NpgsqlParameter("session", NpgsqlDbType.Text) { Value = (object?)sessionId ?? DBNull.Value });
        log.Parameters.Add(new NpgsqlParameter("user", NpgsqlDbType.Text) { Value = (object?)userId ?? DBNull.Value });
        await log.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task RevokeUserSessionsAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await RevokeUserLockedAsync(connection, transaction, userId, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task RevokeUserLockedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string userId, CancellationToken cancellationToken)
    {
        var now = Now();
        await ExecuteAsync(connection, transaction, "UPDATE tessera_sessions SET revoked_at = @now WHERE user_id = @user AND revoked_at IS NULL;", cancellationToken,
            ("now", now), ("user", userId)).ConfigureAwait(false);
        // One user-wide event: every node disconnects all the user's sockets, whatever session they belong to.
        await AppendRevocationAsync(connection, transaction, null, userId, now, cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> IsSessionRevokedAsync(string sessionId, CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var select = Command(connection,
            "SELECT s.revoked_at IS NOT NULL OR u.disabled FROM tessera_sessions s JOIN tessera_users u ON u.id = s.user_id WHERE s.id = @id;", null, ("id", sessionId));
        // An unknown session is not one this store issued: treat it as revoked.
        return await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not false;
    }

    public async Task<bool> IsSessionActiveAsync(string sessionId, string userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var select = Command(connection,
            "SELECT 1 FROM tessera_sessions s JOIN tessera_users u ON u.id = s.user_id WHERE s.id = @id AND s.user_id = @user AND s.revoked_at IS NULL AND NOT u.disabled;",
            null, ("id", sessionId), ("user", userId));
        return await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null;
    }

    public async Task<IReadOnlyList<RevocationEvent>> RevocationsAfterAsync(long afterId, CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var select = Command(connection, "SELECT id, session_id, user_id, at FROM tessera_revocations WHERE id > @after ORDER BY id LIMIT 1000;", null, ("after", afterId));
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
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var select = Command(connection, "SELECT COALESCE(MAX(id), 0) FROM tessera_revocations;");
        return Convert.ToInt64(await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<IReadOnlyList<StoredSigningKey>> ListSigningKeysAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var select = Command(connection, "SELECT generation, kid, alg, private_key, created_at, activates_at, retires_at FROM tessera_signing_keys ORDER BY generation;");
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
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var insert = Command(connection, """
            INSERT INTO tessera_signing_keys (generation, kid, alg, private_key, created_at, activates_at, retires_at)
            VALUES (@generation, @kid, @alg, @key, @created, @activates, @retires) ON CONFLICT DO NOTHING;
            """, null,
            ("generation", key.Generation), ("kid", key.KeyId), ("alg", key.Algorithm), ("key", key.ProtectedPrivateKey),
            ("created", key.CreatedAt.ToUnixTimeMilliseconds()), ("activates", key.ActivatesAt.ToUnixTimeMilliseconds()), ("retires", key.RetiresAt.ToUnixTimeMilliseconds()));
        return await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    public async Task DeleteSigningKeyAsync(string keyId, CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, null, "DELETE FROM tessera_signing_keys WHERE kid = @kid;", cancellationToken, ("kid", keyId)).ConfigureAwait(false);
    }

    public IReadOnlyList<string> GetDataProtectionKeys()
    {
        using var connection = _dataSource.OpenConnection();
        using var select = Command(connection, "SELECT xml FROM tessera_data_protection_keys ORDER BY id;");
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
        using var connection = _dataSource.OpenConnection();
        using var insert = Command(connection, "INSERT INTO tessera_data_protection_keys (friendly_name, xml) VALUES (@name, @xml);", null, ("name", friendlyName), ("xml", xml));
        insert.ExecuteNonQuery();
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    public void Dispose() => _dataSource.Dispose();
}
