using System.Data.Common;
using Tessera.Accounts.Internal;
using Tessera.Accounts.PostgreSql.Internal;

namespace Tessera.Accounts.Tests;

/// <summary>
/// What every account store must do, run against each store: SQLite (a fresh file) and PostgreSQL (a fresh database on a
/// real server started from initdb for this test run).
/// </summary>
public abstract class StoreContractTests
{
    protected abstract Task<IAccountStore> CreateStoreAsync();

    private static readonly DateTimeOffset Later = DateTimeOffset.UtcNow.AddDays(1);

    private async Task<IAccountStore> StoreAsync()
    {
        var store = await CreateStoreAsync();
        await store.InitializeAsync();
        return store;
    }

    private static async Task<(UserAccount User, string Session)> UserWithSessionAsync(IAccountStore store, string name, string refreshHash)
    {
        var user = await store.CreateUserAsync(name, "hash-" + name);
        Assert.NotNull(user);
        var session = TokenService.NewSessionId();
        await store.CreateSessionAsync(session, user.Id, refreshHash, Later);
        return (user, session);
    }

    [Fact]
    public async Task Initialising_twice_keeps_the_data()
    {
        var store = await StoreAsync();
        var user = await store.CreateUserAsync("Alice", "h");
        await store.InitializeAsync();
        Assert.Equal(user, await store.FindUserByIdAsync(user!.Id));
    }

    [Fact]
    public async Task Usernames_are_unique_and_found_case_insensitively_keeping_their_case()
    {
        var store = await StoreAsync();
        var alice = await store.CreateUserAsync("Alice", "h1");
        Assert.NotNull(alice);
        Assert.Null(await store.CreateUserAsync("aLICE", "h2"));
        var found = await store.FindUserByNameAsync("ALICE");
        Assert.Equal(alice!.Id, found?.Id);
        Assert.Equal("Alice", found!.Username);
        Assert.Equal("h1", found.PasswordHash);
        Assert.Null(await store.FindUserByNameAsync("bob"));
        Assert.Null(await store.FindUserByIdAsync("no-such-id"));
        await store.CreateUserAsync("bob", "h3");
        Assert.Equal(["Alice", "bob"], (await store.ListUsersAsync()).Select(u => u.Username));
    }

    [Fact]
    public async Task A_password_hash_can_be_replaced()
    {
        var store = await StoreAsync();
        var user = await store.CreateUserAsync("carol", "old");
        await store.UpdatePasswordHashAsync(user!.Id, "new");
        Assert.Equal("new", (await store.FindUserByIdAsync(user.Id))!.PasswordHash);
    }

    [Fact]
    public async Task A_refresh_token_rotates_once_and_its_reuse_revokes_the_session()
    {
        var store = await StoreAsync();
        var (user, session) = await UserWithSessionAsync(store, "dave", "t1");
        var now = DateTimeOffset.UtcNow;
        var rotated = await store.RotateRefreshTokenAsync("t1", "t2", Later, now);
        Assert.Equal(new RefreshResult(RefreshOutcome.Rotated, session, user.Id), rotated);
        Assert.True(await store.IsSessionActiveAsync(session, user.Id));
        Assert.Equal(RefreshOutcome.Reused, (await store.RotateRefreshTokenAsync("t1", "t3", Later, now)).Outcome);
        Assert.True(await store.IsSessionRevokedAsync(session));
        Assert.False(await store.IsSessionActiveAsync(session, user.Id));
        // The token handed out by the rotation dies with its session.
        Assert.Equal(RefreshOutcome.Invalid, (await store.RotateRefreshTokenAsync("t2", "t4", Later, now)).Outcome);
        Assert.Equal(RefreshOutcome.Invalid, (await store.RotateRefreshTokenAsync("unknown", "t5", Later, now)).Outcome);
    }

    [Fact]
    public async Task An_expired_refresh_token_is_refused_as_expired()
    {
        var store = await StoreAsync();
        var user = await store.CreateUserAsync("erin", "h");
        await store.CreateSessionAsync("s-erin", user!.Id, "old", DateTimeOffset.UtcNow.AddMinutes(-1));
        Assert.Equal(RefreshOutcome.Expired, (await store.RotateRefreshTokenAsync("old", "new", Later, DateTimeOffset.UtcNow)).Outcome);
    }

    [Fact]
    public async Task A_reuse_within_the_grace_gets_a_token_of_its_own_in_the_same_session()
    {
        var store = await StoreAsync();
        var (_, session) = await UserWithSessionAsync(store, "frank", "a");
        var now = DateTimeOffset.UtcNow;
        Assert.Equal(RefreshOutcome.Rotated, (await store.RotateRefreshTokenAsync("a", "b", Later, now, TimeSpan.FromSeconds(10))).Outcome);
        var again = await store.RotateRefreshTokenAsync("a", "c", Later, now.AddSeconds(5), TimeSpan.FromSeconds(10));
        Assert.Equal(RefreshOutcome.ReusedWithinGrace, again.Outcome);
        Assert.Equal(session, again.SessionId);
        Assert.Equal(RefreshOutcome.Rotated, (await store.RotateRefreshTokenAsync("c", "d", Later, now.AddSeconds(6), TimeSpan.FromSeconds(10))).Outcome);
        // Past the grace, measured from the first rotation: the theft signal.
        Assert.Equal(RefreshOutcome.Reused, (await store.RotateRefreshTokenAsync("a", "e", Later, now.AddSeconds(11), TimeSpan.FromSeconds(10))).Outcome);
        Assert.True(await store.IsSessionRevokedAsync(session));
    }

    [Fact]
    public async Task Of_twenty_concurrent_rotations_of_one_token_exactly_one_succeeds()
    {
        var store = await StoreAsync();
        await UserWithSessionAsync(store, "grace", "shared");
        var now = DateTimeOffset.UtcNow;
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(() => store.RotateRefreshTokenAsync("shared", "new" + i, Later, now))));
        Assert.Equal(1, results.Count(r => r.Outcome == RefreshOutcome.Rotated));
        Assert.Equal(19, results.Count(r => r.Outcome == RefreshOutcome.Reused));
    }

    [Fact]
    public async Task Revocations_are_logged_in_order_for_other_nodes()
    {
        var store = await StoreAsync();
        var before = await store.LastRevocationIdAsync();
        var (user, session) = await UserWithSessionAsync(store, "heidi", "r1");
        var (_, other) = await UserWithSessionAsync(store, "ivan", "r2");
        Assert.True(await store.RevokeSessionAsync(session));
        Assert.False(await store.RevokeSessionAsync(session));
        Assert.False(await store.RevokeSessionAsync("no-such-session"));
        await store.RevokeUserSessionsAsync(user.Id);
        var events = await store.RevocationsAfterAsync(before);
        Assert.Equal(2, events.Count);
        Assert.Equal((session, (string?)null), (events[0].SessionId, events[0].UserId));
        Assert.Equal(((string?)null, user.Id), (events[1].SessionId, events[1].UserId));
        Assert.True(events[0].Id < events[1].Id);
        Assert.Equal(events[1].Id, await store.LastRevocationIdAsync());
        Assert.Empty(await store.RevocationsAfterAsync(events[1].Id));
        Assert.False(await store.IsSessionRevokedAsync(other));
        Assert.True(await store.IsSessionRevokedAsync("no-such-session"));
    }

    [Fact]
    public async Task Disabling_a_user_revokes_their_sessions_and_enabling_does_not_bring_them_back()
    {
        var store = await StoreAsync();
        var (user, session) = await UserWithSessionAsync(store, "judy", "j1");
        Assert.True(await store.SetDisabledAsync(user.Id, true));
        Assert.True((await store.FindUserByIdAsync(user.Id))!.Disabled);
        Assert.True(await store.IsSessionRevokedAsync(session));
        Assert.Equal(user.Id, (await store.RevocationsAfterAsync(0)).Last().UserId);
        Assert.True(await store.SetDisabledAsync(user.Id, false));
        Assert.False(await store.IsSessionActiveAsync(session, user.Id));
        Assert.Equal(RefreshOutcome.Invalid, (await store.RotateRefreshTokenAsync("j1", "j2", Later, DateTimeOffset.UtcNow)).Outcome);
        Assert.False(await store.SetDisabledAsync("no-such-user", true));
    }

    [Fact]
    public async Task A_session_is_active_only_for_its_own_enabled_user()
    {
        var store = await StoreAsync();
        var (user, session) = await UserWithSessionAsync(store, "ken", "k1");
        var other = await store.CreateUserAsync("leo", "h");
        Assert.True(await store.IsSessionActiveAsync(session, user.Id));
        Assert.False(await store.IsSessionActiveAsync(session, other!.Id));
        Assert.False(await store.IsSessionActiveAsync("unknown", user.Id));
    }

    [Fact]
    public async Task Signing_keys_are_kept_by_generation_and_a_generation_is_added_once()
    {
        var store = await StoreAsync();
        var now = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var first = new StoredSigningKey(1, "kid-1", "ES256", "protected-1", now, now, now.AddDays(30));
        var second = new StoredSigningKey(2, "kid-2", "ES256", "protected-2", now, now.AddDays(30), now.AddDays(60));
        Assert.True(await store.TryAddSigningKeyAsync(second));
        Assert.True(await store.TryAddSigningKeyAsync(first));
        // Another node rotating at the same moment: same generation, another key.
        Assert.False(await store.TryAddSigningKeyAsync(second with { KeyId = "kid-2b" }));
        Assert.Equal([first, second], await store.ListSigningKeysAsync());
        await store.DeleteSigningKeyAsync("kid-1");
        Assert.Equal([second], await store.ListSigningKeysAsync());
    }

    [Fact]
    public async Task The_data_protection_key_ring_is_kept_in_order()
    {
        var store = await StoreAsync();
        Assert.Empty(store.GetDataProtectionKeys());
        store.StoreDataProtectionKey("key-a", "<key id=\"a\" />");
        store.StoreDataProtectionKey("key-b", "<key id=\"b\" />");
        Assert.Equal(["<key id=\"a\" />", "<key id=\"b\" />"], store.GetDataProtectionKeys());
    }

    [Fact]
    public async Task The_health_check_writes()
    {
        var store = await StoreAsync();
        await store.CheckHealthAsync();
    }
}

public sealed class SqliteStoreContractTests : StoreContractTests
{
    protected override Task<IAccountStore> CreateStoreAsync() =>
        Task.FromResult<IAccountStore>(new SqliteAccountStore(Path.Combine(Path.GetTempPath(), "tessera-tests", Guid.NewGuid().ToString("N"), "tessera.db")));
}

public sealed class PostgreSqlStoreContractTests : StoreContractTests
{
    protected override async Task<IAccountStore> CreateStoreAsync()
    {
        var server = await PostgresServer.SharedAsync();
        return new PostgreSqlAccountStore(await server.CreateDatabaseAsync());
    }

    [Fact]
    public async Task Nodes_starting_together_migrate_the_schema_once()
    {
        var server = await PostgresServer.SharedAsync();
        var database = await server.CreateDatabaseAsync();
        var stores = Enumerable.Range(0, 4).Select(_ => new PostgreSqlAccountStore(database)).ToList();
        await Task.WhenAll(stores.Select(s => Task.Run(() => s.InitializeAsync())));
        Assert.NotNull(await stores[0].CreateUserAsync("mallory", "h"));
        Assert.NotNull(await stores[3].FindUserByNameAsync("MALLORY"));
    }

    [Fact]
    public async Task An_unreachable_database_fails_with_a_database_error()
    {
        // A port nobody listens on: what the endpoints turn into 503 + Retry-After is a DbException.
        var store = new PostgreSqlAccountStore($"Host=127.0.0.1;Port={LocalProcesses.FreePort()};Username=tessera;Database=postgres;Timeout=2");
        await Assert.ThrowsAnyAsync<DbException>(() => store.CheckHealthAsync());
        await Assert.ThrowsAnyAsync<DbException>(() => store.FindUserByNameAsync("x"));
    }
}
