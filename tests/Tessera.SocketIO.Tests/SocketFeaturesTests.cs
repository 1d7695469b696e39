using Tessera.SocketIO.Internal;

namespace Tessera.SocketIO.Tests;

public class SocketFeaturesTests
{
    private sealed record A(int Value);

    private sealed record B(string Value);

    [Fact]
    public void Features_are_set_replaced_removed_and_enumerated_as_in_ASP_NET_Core()
    {
        var features = new SocketFeatures();
        Assert.Null(features.Get<A>());
        Assert.Empty(features);
        var revision = features.Revision;

        features.Set(new A(1));
        features.Set(new B("b"));
        Assert.Equal(new A(1), features.Get<A>());
        Assert.Equal(new B("b"), features[typeof(B)]);
        Assert.Equal(revision + 2, features.Revision);

        features.Set(new A(2));
        Assert.Equal(new A(2), features.Get<A>());
        Assert.Equal([typeof(A), typeof(B)], features.Select(f => f.Key));

        features.Set<A>(null);
        Assert.Null(features.Get<A>());
        Assert.Equal([typeof(B)], features.Select(f => f.Key));
        var afterRemove = features.Revision;
        // Removing what is not there changes nothing.
        features[typeof(A)] = null;
        Assert.Equal(afterRemove, features.Revision);
        Assert.False(features.IsReadOnly);
    }

    [Fact]
    public void A_missing_value_type_feature_is_a_clear_error()
    {
        var features = new SocketFeatures();
        var error = Assert.Throws<InvalidOperationException>(() => features.Get<int>());
        Assert.Contains("System.Int32", error.Message);
        Assert.Null(features.Get<int?>());
    }

    [Fact]
    public async Task Sets_from_two_threads_at_once_lose_nothing_and_readers_never_see_a_torn_collection()
    {
        var features = new SocketFeatures();
        var types = new[] { typeof(int), typeof(long), typeof(string), typeof(object), typeof(A), typeof(B), typeof(Uri), typeof(Version) };
        using var stop = new CancellationTokenSource();
        var reader = Task.Run(() =>
        {
            var reads = 0;
            while (!stop.IsCancellationRequested || reads == 0)
            {
                foreach (var (type, value) in features)
                {
                    Assert.Same(type, value);
                }
                reads++;
            }
        });
        // Two writers, each setting its own half of the keys (the value is the key itself), many times over.
        await Task.WhenAll(
            Task.Run(() => { for (var i = 0; i < 20_000; i++) { features[types[i % 4]] = types[i % 4]; features[types[i % 4]] = null; features[types[i % 4]] = types[i % 4]; } }),
            Task.Run(() => { for (var i = 0; i < 20_000; i++) { features[types[4 + i % 4]] = types[4 + i % 4]; } }));
        stop.Cancel();
        await reader;
        Assert.Equal(types.OrderBy(t => t.FullName), features.Select(f => f.Key).OrderBy(t => t.FullName));
    }
}
