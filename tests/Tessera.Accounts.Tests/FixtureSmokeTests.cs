using System.Net;
using System.Net.Sockets;

namespace Tessera.Accounts.Tests;

/// <summary>The real PostgreSQL and nginx of tests/Shared start, serve, survive a kill (PostgreSQL) and go away.</summary>
public sealed class FixtureSmokeTests
{
    [Fact]
    public async Task Postgres_serves_a_fresh_database_survives_a_kill_and_stops_on_dispose()
    {
        var server = await PostgresServer.StartAsync();
        int port;
        await using (server)
        {
            port = server.Port;
            var connection = await server.CreateDatabaseAsync();
            var database = DatabaseOf(connection);
            Assert.StartsWith($"Host=127.0.0.1;Port={port};Username=tessera;Database=test_", connection, StringComparison.Ordinal);

            Assert.Equal($"1|{database}|tessera|UTF8", await server.PsqlAsync(
                "select 1, current_database(), current_user, pg_encoding_to_char(encoding) from pg_database where datname = current_database()", database));
            var other = DatabaseOf(await server.CreateDatabaseAsync());
            Assert.NotEqual(database, other);

            await server.KillAsync();
            await Assert.ThrowsAsync<SocketException>(() => ConnectAsync(port));
            await server.RestartAsync();
            Assert.Equal(port, server.Port);
            // The database created before the crash is still there (createdb is durable even with fsync off).
            Assert.Equal("1", await server.PsqlAsync("select 1", database));
        }
        await Assert.ThrowsAsync<SocketException>(() => ConnectAsync(port));
    }

    [Fact]
    public async Task Shared_postgres_is_one_server_that_disposing_does_not_stop()
    {
        var shared = await PostgresServer.SharedAsync();
        Assert.Same(shared, await PostgresServer.SharedAsync());
        await shared.DisposeAsync();
        var database = DatabaseOf(await shared.CreateDatabaseAsync());
        Assert.Equal("1", await shared.PsqlAsync("select 1", database));
        await Assert.ThrowsAsync<InvalidOperationException>(shared.KillAsync);
    }

    [Fact]
    public async Task Nginx_serves_its_configuration_and_buffers_large_bodies_in_its_temp_directory()
    {
        var nginx = await NginxServer.StartAsync("""
            server {
                listen 127.0.0.1:{PORT};
                location / { return 200 'ok'; }
                location /upload { proxy_pass http://127.0.0.1:{PORT}/sink; }
                location /sink { return 200 "received $content_length"; }
            }
            """);
        int port;
        await using (nginx)
        {
            port = nginx.Port;
            Assert.Equal($"http://127.0.0.1:{port}", nginx.BaseUrl);
            using var http = new HttpClient { BaseAddress = new Uri(nginx.BaseUrl) };

            using var get = await http.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            Assert.Equal("ok", await get.Content.ReadAsStringAsync());

            // Larger than client_body_buffer_size, so the worker writes it to client_body_temp before proxying.
            using var post = await http.PostAsync("/upload", new ByteArrayContent(new byte[512 * 1024]));
            Assert.Equal(HttpStatusCode.OK, post.StatusCode);
            Assert.Equal($"received {512 * 1024}", await post.Content.ReadAsStringAsync());
            Assert.Contains("request body is buffered to a temporary file", nginx.ErrorLog, StringComparison.Ordinal);
        }
        await Assert.ThrowsAsync<SocketException>(() => ConnectAsync(port));
    }

    [Fact]
    public async Task Nginx_with_a_bad_configuration_fails_with_its_error_log()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => NginxServer.StartAsync("no_such_directive on;"));
        Assert.Contains("unknown directive \"no_such_directive\"", e.Message, StringComparison.Ordinal);
    }

    private static string DatabaseOf(string connectionString) =>
        connectionString.Split(';').Single(p => p.StartsWith("Database=", StringComparison.Ordinal))["Database=".Length..];

    private static async Task ConnectAsync(int port)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
    }
}
