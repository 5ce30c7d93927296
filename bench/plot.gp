# The benchmark's side-by-side table as a PNG (gnuplot, from bench.sh --out): for each row,
# fio's and xenblkd's median IOPS with their min-max (log scale, top), and xenblkd/fio with the
# min-max of the per-round ratios (bottom). Run by bench.sh: gnuplot -e "tsv='..'; png='..';
# load_avg='..'" plot.gp
set terminal pngcairo size 1400,900 font ",10"
set output png
set datafile separator "\t"
set datafile columnheaders
set multiplot layout 2,1 title sprintf("xenblkd vs fio, simulated platform (load average %s)", load_avg)
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.6 border -1
set boxwidth 0.9
set xtics rotate by -30 noenhanced
set key outside top center horizontal
set logscale y
set ylabel "IOPS (median, min-max)"
set grid ytics
plot tsv using 5:6:7:xtic(sprintf("%s %s %s %s", strcol(1), strcol(2), strcol(3), strcol(4))) \
        title "fio (native)" lc rgb "#4477aa", \
     '' using 8:9:10 title "xenblkd (simulated blkfront)" lc rgb "#ee6677"
unset logscale y
set ylabel "xenblkd / fio (median, min-max)"
set yrange [0:*]
plot tsv using 11:12:13:xtic(sprintf("%s %s", strcol(1), strcol(4))) title "x/fio" lc rgb "#228833", \
     1.0 with lines lc rgb "black" dt 2 notitle
unset multiplot
