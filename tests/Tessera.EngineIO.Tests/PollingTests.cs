using System.Net;
using System.Text;

namespace Tessera.EngineIO.Tests;

public class PollingTests
{
    [Fact]
    public async Task Posted_batch_is_delivered_and_echoed_in_one_payload()
    {
        await using var server = await TestServer.StartAsync();
        var (sid, _) = await server.HandshakeAsync();
        var post = await server.PostAsync(sid, "4first\u001e4second\u001ebAQID/w==");
        Assert.Equal(HttpStatusCode.OK, post.Status);
        Assert.Equal("ok", post.Body);
        var poll = await server.GetAsync(sid);
        // Binary goes back as 'b' + base64, packets joined by the record separator.
        Assert.Equal("4first\u001e4second\u001ebAQID/w==", poll.Body);
    }

    [Fact]
    public async Task Post_answers_ok_as_text_html()
    {
        await using var server = await TestServer.StartAsync();
        var (sid, _) = await server.HandshakeAsync();
        using var content = new StringContent("4x");
        using var response = await server.Http.PostAsync(server.Url($"EIO=4&transport=polling&sid={sid}"), content);
        Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Parked_get_is_released_by_a_later_message()
    {
        await using var server = await TestServer.StartAsync();
        var (sid, _) = await server.HandshakeAsync();
        var socket = await server.Handler.Opened.Reader.ReadAsync();
        var poll = server.GetAsync(sid);
        // The GET is parked until something is sent; send from the server side.
        await server.WaitParkedAsync(sid);
        Assert.True(socket.Send(EngineIOOutgoingMessage.Text("pushed")));
        Assert.Equal("4pushed", (await poll).Body);
    }

    [Fact]
    public async Task Concurrent_get_closes_the_session_first_get_receives_close_second_gets_400()
    {
        await using var server = await TestServer.StartAsync();
        var (sid, _) = await server.HandshakeAsync();
        var first = server.GetAsync(sid);
        await server.WaitParkedAsync(sid);
        var second = await server.GetAsync(sid);
        Assert.Equal(HttpStatusCode.BadRequest, second.Status);
        Assert.Equal("1", (await first).Body);
        Assert.Equal("transport error", await server.Handler.WaitClosedAsync(sid));
        var after = await server.GetAsync(sid);
        Assert.Equal(HttpStatusCode.BadRequest, after.Status);
        Assert.Contains("\"code\":1", after.Body);
        await server.AssertServesNewClientAsync();
    }

    [Fact]
    public async Task Oversized_post_gets_413_and_closes_the_session()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxPayload = 1000);
        var (sid, _) = await server.HandshakeAsync();
        var post = await server.PostAsync(sid, "4" + new string('a', 1000));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, post.Status);
        Assert.Equal("transport error", await server.Handler.WaitClosedAsync(sid));
        Assert.Equal(HttpStatusCode.BadRequest, (await server.GetAsync(sid)).Status);
        await server.AssertServesNewClientAsync();
    }

    [Fact]
    public async Task Post_at_exactly_max_payload_is_accepted()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxPayload = 1000);
        var (sid, _) = await server.HandshakeAsync();
        var text = "4" + new string('a', 999);
        Assert.Equal(HttpStatusCode.OK, (await server.PostAsync(sid, text)).Status);
        Assert.Equal(text, (await server.GetAsync(sid)).Body);
    }

    [Fact]
    public async Task Oversized_chunked_post_without_content_length_is_refused_too()
    {
        await using var server = await TestServer.StartAsync(o => o.MaxPayload = 1000);
        var (sid, _) = await server.HandshakeAsync();
        using var content = new StreamContent(new MemoryStream(Encoding.ASCII.GetBytes("4" + new string('b', 5000))));
        using var request = new HttpRequestMessage(HttpMethod.Post, server.Url($"EIO=4&transport=polling&sid={sid}")) { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using var response = await server.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("transport error", await server.Handler.WaitClosedAsync(sid));
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("9nine")]
    [InlineData("4ok\u001e\u001e4empty-between")]
    [InlineData("b!!!not-base64")]
    [InlineData("\u00ff\u00fe")]
    public async Task Malformed_payload_closes_the_session_with_parse_error(string payload)
    {
        await using var server = await TestServer.StartAsync();
        var (sid, _) = await server.HandshakeAsync();
        var post = await server.PostAsync(sid, payload);
        Assert.Equal(HttpStatusCode.BadRequest, post.Status);
        Assert.Equal("parse error", await server.Handler.WaitClosedAsync(sid));
        Assert.Equal(HttpStatusCode.BadRequest, (await server.GetAsync(sid)).Status);
        await server.AssertServesNewClientAsync();
    }

    [Fact]
    public async Task Client_close_packet_releases_the_parked_get_with_noop()
    {
        await using var server = await TestServer.StartAsync();
        var (sid, _) = await server.HandshakeAsync();
        var poll = server.GetAsync(sid);
        await server.WaitParkedAsync(sid);
        await server.PostAsync(sid, "1");
        Assert.Equal("6", (await poll).Body);
        Assert.Equal("transport close", await server.Handler.WaitClosedAsync(sid));
    }

    // The public suite's "forcefully closes the session" sends the GET and the close POST at once; Kestrel may
    // start the POST first. The GET still gets the noop, and only then is the session gone.
    [Fact]
    public async Task Get_arriving_just_after_the_client_close_packet_still_gets_the_noop()
    {
        await using var server = await TestServer.StartAsync();
        var (sid, _) = await server.HandshakeAsync();
        var socket = await server.Handler.Opened.Reader.ReadAsync();
        Assert.Equal(HttpStatusCode.OK, (await server.PostAsync(sid, "1")).Status);
        Assert.False(socket.Send(EngineIOOutgoingMessage.Text("too late")));
        var poll = await server.GetAsync(sid);
        Assert.Equal(HttpStatusCode.OK, poll.Status);
        Assert.Equal("6", poll.Body);
        Assert.Equal("transport close", await server.Handler.WaitClosedAsync(sid));
        Assert.Equal(HttpStatusCode.BadRequest, (await server.GetAsync(sid)).Status);
    }

    [Fact]
    public async Task Client_close_packet_with_no_get_ends_the_session_by_itself()
    {
        await using var server = await TestServer.StartAsync();
        var (sid, _) = await server.HandshakeAsync();
        Assert.Equal(HttpStatusCode.OK, (await server.PostAsync(sid, "1\u001e4after close")).Status);
        Assert.Equal("transport close", await server.Handler.WaitClosedAsync(sid));
        Assert.Equal(HttpStatusCode.BadRequest, (await server.GetAsync(sid)).Status);
    }

    [Fact]
    public async Task Server_close_sends_queued_messages_then_the_close_packet()
    {
        await using var server = await TestServer.StartAsync();
        var (sid, _) = await server.HandshakeAsync();
        var socket = await server.Handler.Opened.Reader.ReadAsync();
        socket.Send(EngineIOOutgoingMessage.Text("last words"));
        socket.Close();
        Assert.False(socket.Send(EngineIOOutgoingMessage.Text("too late")));
        Assert.Equal("4last words\u001e1", (await server.GetAsync(sid)).Body);
        Assert.Equal("forced close", await server.Handler.WaitClosedAsync(sid));
    }

    [Fact]
    public async Task Client_that_aborts_its_parked_get_ends_the_session()
    {
        await using var server = await TestServer.StartAsync();
        var (sid, _) = await server.HandshakeAsync();
        using var cts = new CancellationTokenSource();
        var poll = server.GetAsync(sid, cts.Token);
        await server.WaitParkedAsync(sid);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => poll);
        Assert.Equal("transport error", await server.Handler.WaitClosedAsync(sid));
    }
}
