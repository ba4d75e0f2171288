"""The foundation every run uses: one way to start the server, one recordings object, one raw client,
the time scale, traffic, observers, measurements, and the claim/result/registry types that
experiments and real-load-balancer scenarios share.
"""
