using System.Net;
using Microsoft.AspNetCore.Builder;

namespace Tessera.EngineIO.Tests;

public class OptionsTests
{
    [Fact]
    public async Task Cookie_option_sets_the_session_cookie_on_the_handshake()
    {
        await using var server = await TestServer.StartAsync(o => o.Cookie = new EngineIOCookieOptions());
        using var response = await server.Http.GetAsync(server.Url("EIO=4&transport=polling"));
        var body = await response.Content.ReadAsStringAsync();
        var cookie = response.Headers.GetValues("Set-Cookie").Single();
        var sid = System.Text.Json.JsonDocument.Parse(body[1..]).RootElement.GetProperty("sid").GetString();
        Assert.StartsWith($"io={sid};", cookie);
        Assert.Contains("path=/", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", cookie, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task No_cookie_by_default()
    {
        await using var server = await TestServer.StartAsync();
        using var response = await server.Http.GetAsync(server.Url("EIO=4&transport=polling"));
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task Cors_allows_configured_origins_with_credentials()
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.Cors = new EngineIOCorsOptions { Credentials = true };
            o.Cors.Origins.Add("http://app.test");
        });

        using var allowed = new HttpRequestMessage(HttpMethod.Get, server.Url("EIO=4&transport=polling"));
        allowed.Headers.Add("Origin", "http://app.test");
        using var response = await server.Http.SendAsync(allowed);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("http://app.test", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("true", response.Headers.GetValues("Access-Control-Allow-Credentials").Single());

        using var other = new HttpRequestMessage(HttpMethod.Get, server.Url("EIO=4&transport=polling"));
        other.Headers.Add("Origin", "http://evil.test");
        using var refused = await server.Http.SendAsync(other);
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Cors_preflight_answers_204_with_methods_and_requested_headers()
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.Cors = new EngineIOCorsOptions { MaxAge = TimeSpan.FromMinutes(10) };
            o.Cors.Origins.Add("*");
        });
        using var request = new HttpRequestMessage(HttpMethod.Options, server.Url("EIO=4&transport=polling"));
        request.Headers.Add("Origin", "http://anywhere.test");
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "authorization");
        using var response = await server.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("GET,POST", response.Headers.GetValues("Access-Control-Allow-Methods").Single());
        Assert.Equal("authorization", response.Headers.GetValues("Access-Control-Allow-Headers").Single());
        Assert.Equal("600", response.Headers.GetValues("Access-Control-Max-Age").Single());
    }

    [Fact]
    public void Invalid_options_refuse_to_start_with_a_clear_message()
    {
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateSlimBuilder();
        var app = builder.Build();
        var error = Assert.Throws<InvalidOperationException>(() =>
            app.MapEngineIO("/engine.io", new RecordingHandler(), o => o.MaxPayload = 0));
        Assert.Contains("MaxPayload", error.Message);
    }

    [Theory]
    [InlineData("MaxBufferedBytes")]
    [InlineData("WriteTimeout")]
    [InlineData("WriteTimeout-infinite")]
    [InlineData("MaxConnectionsPerAddress")]
    public void Invalid_limits_refuse_to_start_with_a_clear_message(string option)
    {
        var app = Microsoft.AspNetCore.Builder.WebApplication.CreateSlimBuilder().Build();
        var error = Assert.Throws<InvalidOperationException>(() => app.MapEngineIO("/engine.io", new RecordingHandler(), o =>
        {
            switch (option)
            {
                case "MaxBufferedBytes":
                    o.MaxBufferedBytes = 0;
                    break;
                case "WriteTimeout":
                    o.WriteTimeout = TimeSpan.Zero;
                    break;
                case "WriteTimeout-infinite":
                    o.WriteTimeout = Timeout.InfiniteTimeSpan;
                    break;
                default:
                    o.MaxConnectionsPerAddress = -1;
                    break;
            }
        }));
        Assert.Contains(option.Split('-')[0], error.Message);
    }

    [Fact]
    public void Limits_have_documented_defaults_and_are_copied_per_endpoint()
    {
        var defaults = new EngineIOOptions();
        Assert.Equal(4 * 1024 * 1024, defaults.MaxBufferedBytes);
        Assert.Equal(TimeSpan.FromSeconds(30), defaults.WriteTimeout);
        Assert.Null(defaults.MaxConnectionsPerAddress);

        var copy = EngineIOEndpointRouteBuilderExtensions.Clone(new EngineIOOptions
        {
            MaxBufferedBytes = 1,
            WriteTimeout = TimeSpan.FromSeconds(1),
            MaxConnectionsPerAddress = 7,
        });
        Assert.Equal((1L, TimeSpan.FromSeconds(1), (int?)7), (copy.MaxBufferedBytes, copy.WriteTimeout, copy.MaxConnectionsPerAddress));
    }
}
