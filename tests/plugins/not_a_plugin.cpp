// A shared library without xp's entry points: the loader must refuse it with a clear message.
extern "C" int not_an_xp_plugin() { return 42; }
