# leaky_cache.rb - a Ruby program for e2e_real_ruby: a hash churned by the
# main thread, strings made and dropped by a second, and a planted leak:
# leaky_insert keeps 5000 strings of 3000 bytes each made by String#*
# (rb_str_times in libruby, whose buffers Ruby mallocs). Prints the sizes.
$cache = []
def leaky_insert(n)
  n.times { |i| $cache << ("payload-%06d-" % i) * 200 }
end
h = {}
200_000.times { |i| h[i % 5000] = "v#{i}" * 3 }
t = Thread.new { 100_000.times { |i| h.size; "x#{i}".upcase } }
leaky_insert(5000)
t.join
puts $cache.size, h.size
puts "LEAK bytes=#{$cache.map(&:bytesize).sum} count=#{$cache.size}"
