// Read by video.js as it loads: no <style> element of its own (the page's policy allows only its own stylesheets).
window.VIDEOJS_NO_DYNAMIC_STYLE = true;
