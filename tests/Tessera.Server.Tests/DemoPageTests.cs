using System.Net;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace Tessera.Server.Tests;

/// <summary>Chromium tests run one at a time: two browsers at once on a small machine make the timings of each uncertain.</summary>
[CollectionDefinition("Browser", DisableParallelization = true)]
public class BrowserCollection;

/// <summary>
/// The demo page as a person uses it, in Chromium (tests/interop/demo.mjs, a scenario per test, each against a server of
/// its own): a phone's width and a desktop's, axe-core, the keyboard, a pending send, a reload resuming the session, why
/// a session ended, registration turned off. Screenshots go to TestResults/demo/ at the repository's root.
/// </summary>
[Collection("Browser")]
public class DemoPageTests(ITestOutputHelper output)
{
    private static string Shots(string scenario) => Path.GetFullPath(Path.Combine(
        Path.GetDirectoryName(NodeInterop.InteropDirectory)!, "..", "TestResults", "demo",
        DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture) + "-" + scenario));

    private async Task<JsonElement> RunAsync(ServerProcess server, string scenario, params string[] extra)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        JsonElement summary;
        try
        {
            summary = await NodeInterop.RunAsync("demo.mjs", [scenario, server.BaseUrl, Shots(scenario), .. extra]);
        }
        finally
        {
            output.WriteLine($"demo.mjs {scenario}: {started.Elapsed.TotalSeconds:0.0} s");
        }
        output.WriteLine(summary.GetRawText());
        Assert.True(summary.GetProperty("ok").GetBoolean(), summary.GetRawText());
        Assert.Empty(summary.GetProperty("problems").EnumerateArray());
        foreach (var shot in summary.GetProperty("screenshots").EnumerateArray())
        {
            Assert.True(new FileInfo(shot.GetString()!).Length > 1000, shot.GetString());
        }
        return summary;
    }

    [Fact]
    public async Task DemoPage_fits_a_phone_and_a_desktop_and_axe_finds_nothing_serious()
    {
        await using var server = await ServerProcess.StartAsync();
        var summary = await RunAsync(server, "layout");
        Assert.Equal(4, summary.GetProperty("screenshots").GetArrayLength());
        var axe = summary.GetProperty("axe");
        foreach (var view in new[] { "390-login", "1280-login", "390-chat", "1280-chat" })
        {
            foreach (var violation in axe.GetProperty(view).EnumerateArray())
            {
                output.WriteLine($"axe {view}: {violation.GetProperty("id").GetString()} ({violation.GetProperty("impact").GetString()}): {violation.GetProperty("help").GetString()}");
                Assert.DoesNotContain(violation.GetProperty("impact").GetString(), new[] { "serious", "critical" });
            }
            var layout = summary.GetProperty("layout").GetProperty(view);
            Assert.True(layout.GetProperty("scrollWidth").GetDouble() <= layout.GetProperty("innerWidth").GetDouble(), view);
        }
        // At 390 px the message list fills the width the viewport leaves inside the padding.
        var phone = summary.GetProperty("layout").GetProperty("390-chat").GetProperty("messages");
        Assert.InRange(phone.GetProperty("width").GetDouble(), phone.GetProperty("available").GetDouble() - 1, phone.GetProperty("available").GetDouble() + 1);
    }

    [Fact]
    public async Task DemoPage_keyboard_reaches_the_rooms_and_text_typed_during_a_send_survives()
    {
        await using var server = await ServerProcess.StartAsync();
        var summary = await RunAsync(server, "keyboard");
        Assert.StartsWith("Not sent:", summary.GetProperty("sendError").GetString());
    }

    [Fact]
    public async Task DemoPage_resumes_after_a_reload_and_says_why_a_session_ended()
    {
        await using var server = await ServerProcess.StartAsync();
        var summary = await RunAsync(server, "session");
        var notices = summary.GetProperty("notices");
        Assert.Equal("You logged out.", notices.GetProperty("loggedOut").GetProperty("text").GetString());
        Assert.Equal("info", notices.GetProperty("loggedOut").GetProperty("kind").GetString());
        Assert.Equal("Your session ended elsewhere.", notices.GetProperty("revoked").GetProperty("text").GetString());
        // CONTRACT §3: revocation reaches a live socket within 1 s (the page then says so).
        Assert.InRange(notices.GetProperty("revoked").GetProperty("afterMs").GetInt32(), 0, 3000);

        // The reload resumed dave's one session instead of starting another: his only session is the login's, and
        // the logout revoked it. erin has two, the page's and the other login's, both revoked by logout-all.
        await using var db = new SqliteConnection($"Data Source={Path.Combine(server.DataDirectory, "tessera.db")};Mode=ReadOnly;Pooling=False");
        await db.OpenAsync();
        async Task<(long Sessions, long Live)> SessionsAsync(string sub)
        {
            await using var command = db.CreateCommand();
            command.CommandText = "SELECT COUNT(*), COUNT(*) - COUNT(revoked_at) FROM sessions WHERE user_id = $sub";
            command.Parameters.AddWithValue("$sub", sub);
            await using var reader = await command.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            return (reader.GetInt64(0), reader.GetInt64(1));
        }
        var dave = summary.GetProperty("dave");
        Assert.Equal((1L, 0L), await SessionsAsync(dave.GetProperty("sub").GetString()!));
        Assert.Equal((2L, 0L), await SessionsAsync(summary.GetProperty("erin").GetProperty("sub").GetString()!));
    }

    [Fact]
    public async Task DemoPage_says_when_the_session_expired()
    {
        // The refresh token (and its cookie) lives 2 s, the access token 6 s: the refresh at auth:expiring (4 s) fails.
        await using var server = await ServerProcess.StartAsync(extra:
        [
            "--Tessera:Auth:AccessTokenLifetime=00:00:06",
            "--Tessera:Auth:RefreshTokenLifetime=00:00:02",
            "--Tessera:Auth:ExpiryWarning=00:00:02",
            "--Tessera:Auth:ClockSkew=00:00:00",
        ]);
        var summary = await RunAsync(server, "expired");
        var expired = summary.GetProperty("notices").GetProperty("expired");
        Assert.Equal("Your session expired.", expired.GetProperty("text").GetString());
        Assert.NotEqual("error", expired.GetProperty("kind").GetString());
    }

    [Fact]
    public async Task DemoPage_without_registration_has_no_register_button_and_the_favicon_is_served()
    {
        var data = ServerProcess.NewDataDirectory();
        var (exit, cli) = await ServerProcess.RunCliAsync(data, "users", "add", "norah", "--password", ServerClients.Password);
        Assert.True(exit == 0, cli);
        await using var server = await ServerProcess.StartAsync(data, extra: ["--Tessera:Auth:AllowRegistration=false"]);

        var page = await server.Http.GetStringAsync("/");
        Assert.Contains("<html lang=\"en\" data-registration=\"false\">", page);
        foreach (var path in new[] { "/favicon.svg", "/favicon.ico" })
        {
            using var favicon = await server.Http.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, favicon.StatusCode);
            Assert.Equal("image/svg+xml", favicon.Content.Headers.ContentType!.MediaType);
            Assert.StartsWith("<svg", await favicon.Content.ReadAsStringAsync());
            Assert.Equal("nosniff", favicon.Headers.GetValues("X-Content-Type-Options").Single());
        }
        Assert.Contains("<link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\">", page);

        await RunAsync(server, "no-registration", "norah", ServerClients.Password);
    }
}
