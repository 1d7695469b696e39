using System.Net;
using System.Text.Json;

namespace Tessera.Server.Tests;

/// <summary>The .NET SocketIOClient recipe of docs/authentication.md, run against the server.</summary>
public class DotNetRecipeTests
{
    [Fact]
    public async Task The_recipe_keeps_its_socket_across_refreshes_and_hears_a_revocation()
    {
        // Tokens live 4 s and are announced 2 s before they expire: two refreshes within ~5 s.
        await using var server = await ServerProcess.StartAsync(extra: ["--Tessera:Auth:AccessTokenLifetime=00:00:04", "--Tessera:Auth:ExpiryWarning=00:00:02"]);
        await ServerClients.SignUpAsync(server, "dotnet-user");
        using var http = new HttpClient();
        var recipe = new DotNetRecipe(http, server.BaseUrl);
        await recipe.ConnectAsync("dotnet-user", ServerClients.Password);
        using var client = recipe.Client!;

        // Two refreshes answered {ok:true} on the same socket, well past the first token's expiry (or a sign-out instead).
        var first = await Task.WhenAny(recipe.SecondRefresh.Task, recipe.SignedOut.Task).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(first == recipe.SecondRefresh.Task, recipe.SignedOut.Task.IsCompleted ? "signed out: " + await recipe.SignedOut.Task : "");
        var id = recipe.IdAtFirstRefresh;
        Assert.True(client.Connected);
        Assert.NotNull(id);
        Assert.Equal(id, client.Id);
        var whoami = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        await client.EmitAsync("whoami", r => whoami.TrySetResult(r.GetValue(0)));
        Assert.Equal("dotnet-user", (await whoami.Task.WaitAsync(TimeSpan.FromSeconds(10))).GetProperty("name").GetString());

        // Logging out everywhere from another login reaches the recipe's handler.
        var (other, _) = await server.LoginAsync("dotnet-user", ServerClients.Password);
        using (var logout = await server.PostJsonAsync("/auth/logout-all", null, bearer: other))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }
        Assert.Equal("Your session ended elsewhere.", await recipe.SignedOut.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void The_documented_recipe_is_the_tested_one()
    {
        static string Block(string text, string begin, string end)
        {
            var start = text.IndexOf(begin, StringComparison.Ordinal);
            Assert.True(start >= 0, $"'{begin}' not found");
            start += begin.Length;
            var stop = text.IndexOf(end, start, StringComparison.Ordinal);
            Assert.True(stop >= 0, $"'{end}' not found");
            return string.Join('\n', text[start..stop].Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0).Select(l => l.Trim()));
        }
        // tests/interop → the repository root.
        var root = Path.GetFullPath(Path.Combine(NodeInterop.InteropDirectory, "..", ".."));
        var source = File.ReadAllText(Path.Combine(root, "tests", "Tessera.Server.Tests", "DotNetRecipe.cs"));
        var docs = File.ReadAllText(Path.Combine(root, "docs", "authentication.md"));
        Assert.Equal(Block(source, "// recipe:begin", "// recipe:end"), Block(docs, "<!-- dotnet-recipe:begin -->\n```csharp", "```\n<!-- dotnet-recipe:end -->"));
    }
}
